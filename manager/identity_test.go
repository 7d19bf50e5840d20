package manager_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

// startManager runs a Manager over a fresh memdb, closed at the end.
func startManager(t *testing.T) (*manager.Manager, *memdb.DB) {
	t.Helper()
	db := memdb.New()
	m, err := manager.New(manager.Config{Server: "memdb:1/ids", Dialer: db, MaxSize: 2})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, m.Close(ctx))
		require.Zero(t, db.OpenNow())
	})
	return m, db
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestInvalidIdentityIsRefusedBeforeAnyDial is leak 3: the zero Identity,
// and what a failed constructor returns (`id, _ := ...`), used to acquire a
// connection logged in with the DSN's own credentials, in Acquire, through
// WithIdentity and the facade. Now each is refused with an error that says
// so, no pool is made and nothing is dialled, even when the facade has a
// default identity to fall back on.
func TestInvalidIdentityIsRefusedBeforeAnyDial(t *testing.T) {
	m, db := startManager(t)
	ctx := testCtx(t)
	failedSecret, _ := tokens.ClientSecretIdentity("", "client", "secret", nil)
	failedStatic, _ := tokens.StaticTokenIdentity("", time.Time{})
	invalid := map[string]tokens.Identity{
		"zero":               {},
		"failed constructor": failedSecret,
		"failed static":      failedStatic,
		"bad New":            tokens.New(tokens.KindManagedIdentity, "tok:not-mine", nil),
	}
	sqlDB := manager.OpenDB(m, manager.WithDefaultIdentity(tokens.SQLLogin()))
	defer func() { require.NoError(t, sqlDB.Close()) }()
	for name, id := range invalid {
		l, err := m.Acquire(ctx, id)
		require.ErrorIs(t, err, tokens.ErrInvalidIdentity, name)
		require.Nil(t, l, name)

		var who string
		err = sqlDB.QueryRowContext(tokens.WithIdentity(ctx, id), "SELECT IDENTITY").Scan(&who)
		require.ErrorIs(t, err, tokens.ErrInvalidIdentity, name)
		_, err = sqlDB.ExecContext(tokens.WithIdentity(ctx, id), "SELECT 1")
		require.ErrorIs(t, err, tokens.ErrInvalidIdentity, name)
		_, err = sqlDB.Conn(tokens.WithIdentity(ctx, id))
		require.ErrorIs(t, err, tokens.ErrInvalidIdentity, name)
	}
	_, err := m.Acquire(ctx, tokens.Identity{})
	assert.ErrorContains(t, err, "zero Identity is not an identity")
	assert.ErrorContains(t, err, "tokens.SQLLogin()")
	assert.Empty(t, db.DialAttempts(), "nothing was dialled")
	assert.Zero(t, m.Stats().Pools)

	// The explicit SQL login, and the facade's default, do reach the server.
	var who string
	require.NoError(t, sqlDB.QueryRowContext(ctx, "SELECT IDENTITY").Scan(&who))
	assert.Equal(t, "sql-login", who)
}

// jwts returns a signed token for a principal and a forged, unsigned token
// that claims the same tenant and object id.
func jwts(t *testing.T, tid, oid string) (real, forged tokens.Token) {
	t.Helper()
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	claims := jwt.MapClaims{"tid": tid, "oid": oid, "aud": "https://database.windows.net/", "exp": exp.Unix()}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	r, err := jwt.NewWithClaims(jwt.SigningMethodES256, claims).SignedString(key)
	require.NoError(t, err)
	f, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	return tokens.Token{Value: r, ExpiresOn: exp}, tokens.Token{Value: f, ExpiresOn: exp}
}

func fixed(tok tokens.Token) tokens.SourceFunc {
	return tokens.SourceFunc(func(context.Context) (tokens.Token, error) { return tok, nil })
}

// useAndRelease acquires id, records which physical connection and which
// token it got, and releases it, leaving the connection idle in its pool.
func useAndRelease(t *testing.T, m *manager.Manager, id tokens.Identity) (connID int64, fingerprint string) {
	t.Helper()
	l, err := m.Acquire(testCtx(t), id)
	require.NoError(t, err)
	c := l.Raw().(*memdb.Conn)
	connID, fingerprint = c.ID(), c.TokenFingerprint()
	l.Release(nil)
	return connID, fingerprint
}

// TestForgedClaimsNeverReachTheVictimsConnection is leak 4 end to end: the
// victim's connection sits idle in its pool; an attacker hands in an
// unsigned token claiming the victim's tid and oid. It used to join the
// victim's pool and be served that connection, logged in with the victim's
// token. Now it gets a pool and a connection of its own, logged in with its
// own (forged) token, which a real server refuses.
func TestForgedClaimsNeverReachTheVictimsConnection(t *testing.T) {
	m, db := startManager(t)
	real, forged := jwts(t, "tenant-1", "victim-oid")
	victimFn, err := tokens.TokenFuncIdentity(fixed(real))
	require.NoError(t, err)
	victimVouched, err := tokens.VouchedTokenIdentity(tokens.Principal{TenantID: "tenant-1", ObjectID: "victim-oid"}, fixed(real))
	require.NoError(t, err)
	attackerFn, err := tokens.TokenFuncIdentity(fixed(forged))
	require.NoError(t, err)
	attackerStatic, err := tokens.StaticTokenIdentity(forged.Value, time.Time{})
	require.NoError(t, err)

	victimConns := map[int64]bool{}
	for _, v := range []tokens.Identity{victimFn, victimVouched} {
		id, fp := useAndRelease(t, m, v)
		assert.Equal(t, real.Fingerprint(), fp)
		victimConns[id] = true
	}
	for name, a := range map[string]tokens.Identity{"token func": attackerFn, "static": attackerStatic} {
		id, fp := useAndRelease(t, m, a)
		assert.False(t, victimConns[id], "%s: the attacker was served a victim's connection", name)
		assert.Equal(t, forged.Fingerprint(), fp, "%s: the attacker's own token is what logged in", name)
	}
	attackerKey, err := attackerFn.Discriminator(testCtx(t))
	require.NoError(t, err)
	assert.Equal(t, "tok:"+sha(forged.Value), attackerKey, "keyed by the whole token, not its claims")
	for _, a := range db.DialAttempts() {
		if a.Identity == attackerKey {
			assert.Equal(t, forged.Fingerprint(), a.TokenFingerprint, "the victim's token never logged in for the attacker's key")
		}
	}
	assert.Equal(t, 3, m.Stats().Pools, "victim by token, victim vouched, attacker's token")
}

// TestStaticTokenNeverSharesAPrincipalsPool is leak 5 end to end: a token-
// keyed principal used to be keyed "tok:"+sha256("oid:<tid>/<oid>"), which is
// exactly the key of StaticTokenIdentity("oid:<tid>/<oid>"). The two now live
// in different key domains and never share a connection.
func TestStaticTokenNeverSharesAPrincipalsPool(t *testing.T) {
	m, _ := startManager(t)
	real, _ := jwts(t, "tenant-1", "victim-oid")
	victim, err := tokens.VouchedTokenIdentity(tokens.Principal{TenantID: "tenant-1", ObjectID: "victim-oid"}, fixed(real))
	require.NoError(t, err)
	victimFn, err := tokens.TokenFuncIdentity(fixed(real))
	require.NoError(t, err)
	vID, _ := useAndRelease(t, m, victim)
	fnID, _ := useAndRelease(t, m, victimFn)
	for _, preimage := range []string{"oid:tenant-1/victim-oid", "tenant-1/victim-oid"} {
		static, err := tokens.StaticTokenIdentity(preimage, time.Now().Add(time.Hour))
		require.NoError(t, err)
		sID, fp := useAndRelease(t, m, static)
		assert.NotEqual(t, vID, sID)
		assert.NotEqual(t, fnID, sID)
		assert.Equal(t, tokens.Token{Value: preimage}.Fingerprint(), fp)
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
