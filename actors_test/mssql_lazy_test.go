package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// countingCredential wraps a real azidentity credential to count its
// GetToken calls and how many ran at once; while gate is open (not closed)
// calls wait on it, so a test can pile up work behind one mint.
type countingCredential struct {
	inner               azcore.TokenCredential
	gate                chan struct{}
	calls, inFlight, hi atomic.Int64

	mu     sync.Mutex
	tokens []string // every token the credential handed out
}

// handedOut returns every token value the credential returned.
func (c *countingCredential) handedOut() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.tokens...)
}

func (c *countingCredential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.calls.Add(1)
	n := c.inFlight.Add(1)
	defer c.inFlight.Add(-1)
	for {
		hi := c.hi.Load()
		if n <= hi || c.hi.CompareAndSwap(hi, n) {
			break
		}
	}
	if c.gate != nil {
		select {
		case <-c.gate:
		case <-ctx.Done():
			return azcore.AccessToken{}, ctx.Err()
		}
	}
	tk, err := c.inner.GetToken(ctx, o)
	if err == nil {
		c.mu.Lock()
		c.tokens = append(c.tokens, tk.Token)
		c.mu.Unlock()
	}
	return tk, err
}

// countedSP is a service principal whose real ClientSecretCredential is
// wrapped in a countingCredential.
func (e *mssqlEnv) countedSP(t *testing.T, name string, gate chan struct{}) (testIdentity, *countingCredential) {
	t.Helper()
	clientID := e.uniq + "-sp-" + name
	secret := "secret-" + rand.Text()
	e.entra.RegisterApp(spTenant, clientID, secret, "oid-"+clientID)
	cred, err := azidentity.NewClientSecretCredential(spTenant, clientID, secret, e.entra.SecretOptions())
	require.NoError(t, err)
	cc := &countingCredential{inner: cred, gate: gate}
	id, err := tokens.CredentialIdentity(tokens.KindServicePrincipal, "sp:"+spTenant+"/"+clientID, cc)
	require.NoError(t, err)
	return testIdentity{ID: id, Login: clientID + "@" + spTenant, Name: clientID}, cc
}

// countedMI is a user-assigned managed identity whose real
// ManagedIdentityCredential is wrapped in a countingCredential.
func (e *mssqlEnv) countedMI(t *testing.T, name string) (testIdentity, *countingCredential) {
	t.Helper()
	clientID := e.uniq + "-mi-" + name
	e.entra.RegisterManagedIdentity(clientID, "oid-"+clientID)
	cred, err := azidentity.NewManagedIdentityCredential(e.entra.ManagedIdentityOptions(azidentity.ClientID(clientID)))
	require.NoError(t, err)
	cc := &countingCredential{inner: cred}
	id, err := tokens.CredentialIdentity(tokens.KindManagedIdentity, "msi:"+clientID, cc)
	require.NoError(t, err)
	return testIdentity{ID: id, Login: clientID + "@" + e.entra.Tenant(), Name: clientID}, cc
}

// TestMSSQLNoMintOnPoolHit: after the first connection, 1,000 calls are pool
// hits: the token endpoint, the credential and the server see nothing new.
func TestMSSQLNoMintOnPoolHit(t *testing.T) {
	env := startMSSQL(t)
	id, cred := env.countedMI(t, "hits")
	db := env.openDB(t, manager.Config{MaxSize: 2})
	ctx := tokens.WithIdentity(testCtx(t, 60*time.Second), id.ID)

	var login string
	require.NoError(t, db.QueryRowContext(ctx, "SELECT SUSER_SNAME()").Scan(&login))
	require.Equal(t, id.Login, login)
	issued, requests := env.entra.Issued(id.Name), env.entra.Requests()
	require.Equal(t, 1, issued)
	before := db.Manager.Stats().Total

	for range 1000 {
		require.NoError(t, db.QueryRowContext(ctx, "SELECT SUSER_SNAME()").Scan(&login))
		require.Equal(t, id.Login, login)
	}
	after := db.Manager.Stats().Total
	assert.Equal(t, issued, env.entra.Issued(id.Name), "no token issued on a pool hit")
	assert.Equal(t, requests, env.entra.Requests(), "the token endpoint was not even asked")
	assert.EqualValues(t, 1, cred.calls.Load(), "the credential was asked once, for the one login")
	assert.Equal(t, before.TokenMints, after.TokenMints)
	assert.EqualValues(t, 1000, after.Hits-before.Hits)
	assert.Equal(t, before.Misses, after.Misses)
	assert.Equal(t, 1, env.tds.Logins(id.Login))
	assert.EqualValues(t, 1, after.Opens)
}

// TestMSSQLOneMintForConcurrentMisses: 50 callers miss at once while the one
// mint is held back. Exactly one GetToken runs, one token is issued, and all
// 50 physical logins use it. Then with a fresh token per issuance (a
// lifetime MSAL does not cache, no reuse at the endpoint) the pool keeps one
// mint in flight at most, every mint reaches the endpoint, and there are
// never more mints than logins.
func TestMSSQLOneMintForConcurrentMisses(t *testing.T) {
	const n = 50
	env := startMSSQL(t)
	env.entra.SetLifetime(2 * time.Minute)
	gate := make(chan struct{})
	id, cred := env.countedSP(t, "burst", gate)
	db := env.openDB(t, manager.Config{MaxSize: n, TokenThreshold: 30 * time.Second, HealthCheckAfter: -1})
	ctx := tokens.WithIdentity(testCtx(t, 60*time.Second), id.ID)

	// holdAll takes n connections at once, checks each, and gives them back
	// only when all n are held, so every one of them is a distinct
	// connection.
	holdAll := func(ctx context.Context, want string) []error {
		var wg sync.WaitGroup
		var arrived atomic.Int64
		all := make(chan struct{})
		arrive := func() {
			if arrived.Add(1) == n {
				close(all)
			}
		}
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := db.Conn(ctx)
				if err != nil {
					errs[i] = err
					arrive()
					return
				}
				defer c.Close()
				var login string
				if err := c.QueryRowContext(ctx, "SELECT SUSER_SNAME()").Scan(&login); err != nil {
					errs[i] = err
				} else if login != want {
					errs[i] = fmt.Errorf("SUSER_SNAME() = %q", login)
				}
				arrive()
				select {
				case <-all:
				case <-ctx.Done():
				}
			}()
		}
		wg.Wait()
		return errs
	}

	done := make(chan []error, 1)
	go func() { done <- holdAll(ctx, id.Login) }()
	// The mint is started by an effect that runs outside the pool actor's
	// Receive, so the n waiters can all be queued before GetToken has been
	// entered: wait for both. The gate holds the one mint in flight, so any
	// second mint the pool wrongly started would show in calls below.
	eventually(t, 20*time.Second, func() bool {
		return db.Manager.Stats().Total.Waiters == n && cred.inFlight.Load() >= 1
	}, "the %d acquires never all queued behind a mint in flight", n)
	assert.EqualValues(t, 1, cred.calls.Load(), "one mint for %d misses", n)
	assert.EqualValues(t, 1, cred.inFlight.Load())
	close(gate)
	for i, err := range <-done {
		require.NoError(t, err, "caller %d", i)
	}
	st := db.Manager.Stats().Total
	assert.EqualValues(t, 1, st.TokenMints)
	assert.EqualValues(t, n, st.Opens)
	assert.Equal(t, 1, env.entra.Issued(id.Name))
	recs := env.loginsOf(id.Login)
	require.Len(t, recs, n)
	for _, r := range recs {
		assert.Equal(t, recs[0].TokenID, r.TokenID, "every login used the one minted token")
	}

	// Fresh tokens per issuance and no gate, on a pool where every
	// connection outlives its use by a millisecond at most, so nearly every
	// call of 50 busy callers is a miss: a managed identity this time.
	db2 := env.openDB(t, manager.Config{MaxSize: n, MaxLifetime: time.Millisecond, LifetimeJitter: -1,
		TokenThreshold: 30 * time.Second, HealthCheckAfter: -1})
	mi, micred := env.countedMI(t, "burst")
	mctx := tokens.WithIdentity(ctx, mi.ID)
	var wg sync.WaitGroup
	var failed atomic.Value
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				var login string
				if err := db2.QueryRowContext(mctx, "SELECT SUSER_SNAME()").Scan(&login); err != nil || login != mi.Login {
					failed.CompareAndSwap(nil, fmt.Errorf("%q, %v", login, err))
				}
			}
		}()
	}
	wg.Wait()
	require.Nil(t, failed.Load())
	// A dial started for a caller another connection served may still be
	// finishing: wait until the pool has heard back from every dial.
	var miStats manager.PoolStats
	logins := 0
	eventually(t, 10*time.Second, func() bool {
		var live bool
		miStats, live = env.poolStats(db2, mi)
		logins = env.tds.Logins(mi.Login)
		return live && miStats.Dialing == 0 && miStats.Opens == uint64(logins)
	}, "the pool's opens never matched the server's logins")
	assert.EqualValues(t, 1, micred.hi.Load(), "never two mints in flight for one pool")
	assert.Equal(t, int(micred.calls.Load()), env.entra.Issued(mi.Name), "every mint reached the endpoint: a fresh token each")
	assert.EqualValues(t, micred.calls.Load(), miStats.TokenMints)
	assert.LessOrEqual(t, miStats.TokenMints, uint64(logins), "mints <= logins")
	assert.EqualValues(t, logins, miStats.Opens)
	assert.Greater(t, miStats.Misses, uint64(n), "the callers kept missing")
	t.Logf("lazy: %d concurrent misses -> 1 mint, %d logins; fresh tokens: %d misses, %d mints, %d issued, %d logins, max in flight %d",
		n, len(recs), miStats.Misses, miStats.TokenMints, env.entra.Issued(mi.Name), logins, micred.hi.Load())
}
