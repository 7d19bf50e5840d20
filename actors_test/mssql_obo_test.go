package e2e

import (
	"crypto/rand"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/onbehalf"
	"github.com/idpool/idpool/tokens"
)

// oboUser is a user registered at sim/entra, with a login at sim/tds (SUSER_SNAME is the UPN).
type oboUser struct {
	UPN string
	P   tokens.Principal
}

// oboApp registers a middle-tier API with a client secret and n users.
func (e *mssqlEnv) oboApp(t *testing.T, n int) (*tokens.OnBehalfOf, string, []oboUser) {
	t.Helper()
	apiID := e.uniq + "-api"
	secret := "secret-" + rand.Text()
	e.entra.RegisterApp(spTenant, apiID, secret, "oid-"+apiID)
	app, err := tokens.NewOnBehalfOfSecret(spTenant, apiID, secret, e.entra.OnBehalfOfOptions())
	require.NoError(t, err)
	users := make([]oboUser, n)
	for i := range users {
		u := oboUser{UPN: e.uniq + "-user" + string(rune('a'+i)) + "@contoso.example",
			P: tokens.Principal{TenantID: spTenant, ObjectID: e.uniq + "-oid-" + string(rune('a'+i))}}
		e.entra.RegisterUser(spTenant, u.UPN, u.P.ObjectID)
		users[i] = u
	}
	return app, apiID, users
}

// expiryOf reads a JWT's exp without verifying it.
func expiryOf(t *testing.T, token string) time.Time {
	t.Helper()
	var c jwt.RegisteredClaims
	_, _, err := jwt.NewParser().ParseUnverified(token, &c)
	require.NoError(t, err)
	return c.ExpiresAt.Time
}

// TestMSSQLOnBehalfOfPoolServesAcrossItsFirstAssertionsExpiry: Alice's pool
// opens its first connection with assertion A1 (short-lived) and keeps it
// leased. Her app renews the assertion (A2). Once A1 has expired, a second
// acquire needs a second physical connection: the pool mints with A2, the
// credential of the latest acquire, and the server sees Alice. Before the
// newest credential won, that mint used A1 and failed with AADSTS500133.
// One exchange per physical open, none for the key.
func TestMSSQLOnBehalfOfPoolServesAcrossItsFirstAssertionsExpiry(t *testing.T) {
	env := startMSSQL(t)
	// Database tokens live 5 minutes and 4 seconds: MSAL answers from the
	// credential's cache only while a token has more than 5 minutes left, so
	// after 4 seconds a mint with A1's credential goes to Entra with A1.
	env.entra.SetLifetime(5*time.Minute + 4*time.Second)
	app, apiID, users := env.oboApp(t, 1)
	alice := users[0]
	db := env.openManager(t, manager.Config{MaxSize: 4, TokenThreshold: time.Minute}, nil)
	m := db.Manager
	ctx := testCtx(t, 60*time.Second)

	a1, err := env.entra.UserToken(alice.UPN, apiID, 2*time.Second)
	require.NoError(t, err)
	id1, err := app.Identity(alice.P, a1)
	require.NoError(t, err)
	l1 := acquire(t, ctx, m, id1)
	who, err := leaseQuery(ctx, l1, "SELECT SUSER_SNAME()")
	require.NoError(t, err)
	require.Equal(t, alice.UPN, who)
	require.Equal(t, 1, env.entra.Exchanges())

	a2, err := env.entra.UserToken(alice.UPN, apiID, time.Hour)
	require.NoError(t, err)
	id2, err := app.Identity(alice.P, a2)
	require.NoError(t, err)
	// Wait (on a condition, not a sleep) until A1 is past its expiry.
	exp := expiryOf(t, a1)
	if cached := env.loginsOf(alice.UPN)[0].ExpiresOn.Add(-5 * time.Minute); cached.After(exp) {
		exp = cached
	}
	eventually(t, 15*time.Second, func() bool { return time.Now().After(exp.Add(time.Second)) },
		"A1 never expired, or its credential's cached token never left MSAL's window")
	_, err = id1.Source().Token(ctx)
	require.ErrorContains(t, err, "AADSTS500133", "a mint with A1 fails now")

	l2 := acquire(t, ctx, m, id2)
	who, err = leaseQuery(ctx, l2, "SELECT SUSER_SNAME()")
	require.NoError(t, err)
	assert.Equal(t, alice.UPN, who)
	l1.Release(nil)
	l2.Release(nil)

	st := settledStats(t, m, func() int { return len(env.loginsOf(alice.UPN)) })
	assert.EqualValues(t, 2, st.Total.Opens)
	assert.Zero(t, st.Total.MintFailures, "no mint ran with the expired assertion")
	assert.EqualValues(t, 1, st.Total.CredentialChanges)
	assert.Equal(t, 2, env.entra.Exchanges(), "one per physical open (the refused probe with A1 is not an exchange)")
}

// TestMSSQLRotatedClientSecretIsPickedUpWithoutAFailedAcquire: a service
// principal's secret is rotated at Entra (the old one stops working) and the
// app builds its identity over the new secret. The pool adopts it at the
// next acquire: the next physical open mints with the new secret, and no
// acquire fails. Tokens live 4 minutes, so MSAL caches none and every mint
// reaches Entra.
func TestMSSQLRotatedClientSecretIsPickedUpWithoutAFailedAcquire(t *testing.T) {
	env := startMSSQL(t)
	env.entra.SetLifetime(4 * time.Minute)
	sp := env.servicePrincipal(t, "rotsecret")
	db := env.openManager(t, manager.Config{MaxSize: 4, TokenThreshold: time.Minute}, nil)
	m := db.Manager
	ctx := testCtx(t, 60*time.Second)

	l1 := acquire(t, ctx, m, sp.ID)
	_, err := leaseQuery(ctx, l1, "SELECT 1")
	require.NoError(t, err)

	// Rotate: Entra now accepts only the new secret.
	newSecret := "rotated-" + rand.Text()
	env.entra.RegisterApp(spTenant, sp.Name, newSecret, "oid-"+sp.Name)
	_, err = sp.ID.Source().Token(ctx)
	require.ErrorContains(t, err, "AADSTS7000215", "the old secret is refused")
	rotated, err := tokens.ClientSecretIdentity(spTenant, sp.Name, newSecret, env.entra.SecretOptions())
	require.NoError(t, err)

	l2 := acquire(t, ctx, m, rotated)
	who, err := leaseQuery(ctx, l2, "SELECT SUSER_SNAME()")
	require.NoError(t, err)
	assert.Equal(t, sp.Login, who)
	l1.Release(nil)
	l2.Release(nil)
	st := m.Stats()
	assert.Zero(t, st.Total.MintFailures)
	assert.EqualValues(t, 2, st.Total.Opens)
	assert.Equal(t, 1, st.Pools, "one key, one pool, no restart")
}

// TestMSSQLOnBehalfOfExchangesPerRequestAndPerOpen: 100 requests of one
// user through the facade, each building its identity from the request's
// token with onbehalf.Cache: zero exchanges on a pool hit, one per physical
// open. Then 40 concurrent requests of two users: still never more
// exchanges than opens.
func TestMSSQLOnBehalfOfExchangesPerRequestAndPerOpen(t *testing.T) {
	env := startMSSQL(t)
	app, apiID, users := env.oboApp(t, 2)
	cache, err := onbehalf.NewCache(app, 100)
	require.NoError(t, err)
	db := env.openDB(t, manager.Config{MaxSize: 8})
	ctx := testCtx(t, 60*time.Second)
	assertions := make([]string, len(users))
	for i, u := range users {
		assertions[i], err = env.entra.UserToken(u.UPN, apiID, time.Hour)
		require.NoError(t, err)
	}
	request := func(i int) {
		id, err := cache.Identity(users[i].P, assertions[i])
		require.NoError(t, err)
		var who string
		require.NoError(t, db.QueryRowContext(tokens.WithIdentity(ctx, id), "SELECT SUSER_SNAME()").Scan(&who))
		require.Equal(t, users[i].UPN, who)
	}
	request(0)
	require.Equal(t, 1, env.entra.Exchanges())
	for range 99 {
		before := env.entra.Exchanges()
		request(0)
		require.Equal(t, before, env.entra.Exchanges(), "a pool hit exchanges nothing")
	}
	st := db.Manager.Stats()
	assert.EqualValues(t, 1, st.Total.Opens)
	assert.EqualValues(t, 100, st.Total.Acquires)

	var wg sync.WaitGroup
	for g := range 40 {
		wg.Go(func() { request(g % 2) })
	}
	wg.Wait()
	st = settledStats(t, db.Manager, func() int { return len(env.loginsOf(users[0].UPN)) + len(env.loginsOf(users[1].UPN)) })
	assert.LessOrEqual(t, uint64(env.entra.Exchanges()), st.Total.Opens, "at most one exchange per physical open")
}

// TestMSSQLEvictUnderLoadClosesExactlyThatIdentitysConnections: Alice and
// Bob query in a loop from 6 goroutines each; Evict(Alice) returns once
// every session Alice had at the server is gone (counted at the server by
// SPID), Bob's sessions are all still there, no query failed, and Alice's
// next query runs on a new session.
func TestMSSQLEvictUnderLoadClosesExactlyThatIdentitysConnections(t *testing.T) {
	env := startMSSQL(t)
	alice, bob := env.servicePrincipal(t, "alice"), env.servicePrincipal(t, "bob")
	db := env.openDB(t, manager.Config{MaxSize: 4})
	ctx := testCtx(t, 60*time.Second)
	spidsOf := func(login string) map[int]bool {
		out := map[int]bool{}
		for _, s := range env.tds.Sessions() {
			if s.Login == login {
				out[s.SPID] = true
			}
		}
		return out
	}
	stop := make(chan struct{})
	var failures atomic.Int32
	var wg sync.WaitGroup
	for _, id := range []testIdentity{alice, bob} {
		for range 6 {
			wg.Go(func() {
				c := tokens.WithIdentity(ctx, id.ID)
				for {
					select {
					case <-stop:
						return
					default:
					}
					var n int
					if err := db.QueryRowContext(c, "SELECT 1").Scan(&n); err != nil {
						failures.Add(1)
						t.Error(err)
						return
					}
				}
			})
		}
	}
	eventually(t, 10*time.Second, func() bool { return len(spidsOf(alice.Login)) > 0 && len(spidsOf(bob.Login)) > 0 },
		"both users never had sessions")
	aliceBefore, bobBefore := spidsOf(alice.Login), spidsOf(bob.Login)

	require.NoError(t, db.Manager.Evict(ctx, alice.ID))
	// Evict returned: the pool has closed each of them (the driver's Close
	// returned); the server notices each socket's end a moment later.
	gone := func(spids map[int]bool) func() bool {
		return func() bool {
			for spid := range spids {
				if _, still := env.sessionBySPID(spid); still {
					return false
				}
			}
			return true
		}
	}
	eventually(t, 10*time.Second, gone(aliceBefore), "a session of Alice's outlived Evict")
	bobAfter := spidsOf(bob.Login)
	for spid := range bobBefore {
		assert.True(t, bobAfter[spid], "Bob's session %d was closed by Alice's Evict", spid)
	}
	close(stop)
	wg.Wait()
	assert.Zero(t, failures.Load(), "no query failed under Evict")

	var spid int
	require.NoError(t, db.QueryRowContext(tokens.WithIdentity(ctx, alice.ID), "SELECT @@SPID").Scan(&spid))
	assert.False(t, aliceBefore[spid], "Alice's next query runs on a new session")
	st := db.Manager.Stats().Total
	assert.EqualValues(t, 1, st.Evictions)
	assert.GreaterOrEqual(t, st.Closes["evicted"], uint64(len(aliceBefore)))
	for _, p := range db.Manager.Stats().PerPool {
		if strings.Contains(p.Discriminator, "bob") {
			assert.Zero(t, p.Closes["evicted"], "nothing of Bob's was evicted")
		}
	}

	// Reset: every pool.
	bobBefore = spidsOf(bob.Login)
	require.NoError(t, db.Manager.Reset(ctx))
	eventually(t, 10*time.Second, gone(bobBefore), "a session of Bob's outlived Reset")
	assert.EqualValues(t, 3, db.Manager.Stats().Total.Evictions)
}
