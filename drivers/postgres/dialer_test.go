package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/internal/pgtest"
)

func TestDialSQLLoginUsesTheDSNPassword(t *testing.T) {
	srv := pgtest.Shared(t)
	role, pwd := srv.NewRole(t, "sql")
	d, err := NewDialer(srv.DSN(role, pwd, "postgres"))
	require.NoError(t, err)

	c, err := dial(t, d, sqlLoginRequest(d.ServerKey()))
	require.NoError(t, err)
	require.IsType(t, &stdlib.Conn{}, c)
	assert.Equal(t, role, currentUser(t, c))
	assert.Equal(t, 1, srv.Logins(t, role))
}

func TestDialTokenIdentityLogsInWithTheTokenAsPassword(t *testing.T) {
	srv := pgtest.Shared(t)
	role, _ := srv.NewRole(t, "tok")
	token := sentinel("token")
	srv.SetPassword(t, role, token)

	// The DSN's own password is wrong: only the token can get this login in.
	d, err := NewDialer(srv.DSN(role, "not-the-token", "postgres"))
	require.NoError(t, err)
	src := &noMint{}
	c, err := dial(t, d, tokenRequest(d.ServerKey(), "msi:system", src, token))
	require.NoError(t, err)
	assert.Equal(t, role, currentUser(t, c))
	assert.Zero(t, src.calls.Load(), "the dialer must not mint tokens")

	// And the DSN password really is wrong for a SQL login.
	_, err = dial(t, d, sqlLoginRequest(d.ServerKey()))
	require.Error(t, err)
}

func TestWithUserLogsEachIdentityInAsItsPrincipal(t *testing.T) {
	srv := pgtest.Shared(t)
	alice, _ := srv.NewRole(t, "alice")
	bob, _ := srv.NewRole(t, "bob")
	aliceTok, bobTok := sentinel("alice"), sentinel("bob")
	srv.SetPassword(t, alice, aliceTok)
	srv.SetPassword(t, bob, bobTok)
	principals := map[string]string{"msi:alice": alice, "msi:bob": bob}

	// The DSN names no user that exists: Azure-style DSNs often name an admin.
	d, err := NewDialer(srv.DSN("nobody", "", "postgres"), WithUser(func(req actors.DialRequest) string {
		return principals[req.Key.Discriminator()]
	}))
	require.NoError(t, err)

	src := &noMint{}
	ca, err := dial(t, d, tokenRequest(d.ServerKey(), "msi:alice", src, aliceTok))
	require.NoError(t, err)
	cb, err := dial(t, d, tokenRequest(d.ServerKey(), "msi:bob", src, bobTok))
	require.NoError(t, err)
	assert.Equal(t, alice, currentUser(t, ca))
	assert.Equal(t, bob, currentUser(t, cb))
	assert.Equal(t, 1, srv.Logins(t, alice))
	assert.Equal(t, 1, srv.Logins(t, bob))

	// Alice's token does not log Bob in.
	_, err = dial(t, d, tokenRequest(d.ServerKey(), "msi:bob", src, aliceTok))
	require.Error(t, err)
	// An identity WithUser does not know falls back to the DSN's user.
	_, err = dial(t, d, tokenRequest(d.ServerKey(), "msi:carol", src, aliceTok))
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	assert.Contains(t, pgErr.Message, `"nobody"`)
	assert.Zero(t, src.calls.Load())
}

func TestTokenRotationOnTheServer(t *testing.T) {
	srv := pgtest.Shared(t)
	role, _ := srv.NewRole(t, "rot")
	oldTok, newTok := sentinel("old"), sentinel("new")
	srv.SetPassword(t, role, oldTok)
	d, err := NewDialer(srv.DSN(role, "", "postgres"))
	require.NoError(t, err)
	src := &noMint{}

	before, err := dial(t, d, tokenRequest(d.ServerKey(), "msi:system", src, oldTok))
	require.NoError(t, err)
	srv.SetPassword(t, role, newTok)

	_, err = dial(t, d, tokenRequest(d.ServerKey(), "msi:system", src, oldTok))
	require.Error(t, err, "the old token no longer logs in")
	assertNoLeak(t, err, oldTok, newTok)
	after, err := dial(t, d, tokenRequest(d.ServerKey(), "msi:system", src, newTok))
	require.NoError(t, err)
	assert.Equal(t, role, currentUser(t, after))
	assert.Equal(t, role, currentUser(t, before), "a session outlives the password it logged in with")
}

// assertNoLeak checks every error in err's chain, in every format.
func assertNoLeak(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for e := err; e != nil; e = errors.Unwrap(e) {
		for _, text := range []string{e.Error(), fmt.Sprintf("%v", e), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e), fmt.Sprintf("%q", e)} {
			for _, s := range secrets {
				require.NotContains(t, text, s[:min(40, len(s))], "a secret leaked into %T", e)
			}
		}
	}
}

func TestWrongPasswordFailsWithoutLeakingIt(t *testing.T) {
	srv := pgtest.Shared(t)
	role, _ := srv.NewRole(t, "wrong")
	badPwd, badTok := sentinel("password"), sentinel("token")
	d, err := NewDialer(srv.DSN(role, badPwd, "postgres"))
	require.NoError(t, err)

	_, err = dial(t, d, sqlLoginRequest(d.ServerKey()))
	require.Error(t, err)
	assertNoLeak(t, err, badPwd)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	assert.Equal(t, "28P01", pgErr.Code, "invalid_password")
	assert.Contains(t, err.Error(), d.ServerKey())
	var ce *pgconn.ConnectError
	assert.False(t, errors.As(err, &ce), "ConnectError carries the config, password included")

	_, err = dial(t, d, tokenRequest(d.ServerKey(), "msi:system", &noMint{}, badTok))
	require.Error(t, err)
	assertNoLeak(t, err, badPwd, badTok)
	require.ErrorAs(t, err, &pgErr)
	assert.Equal(t, "28P01", pgErr.Code)
}

func TestTokenIdentityWithoutTokenIsRefused(t *testing.T) {
	d, err := NewDialer("postgres://u@127.0.0.1:1/db?sslmode=disable")
	require.NoError(t, err)
	src := &noMint{}
	req := tokenRequest(d.ServerKey(), "msi:system", src, "")
	_, err = d.Dial(context.Background(), req)
	require.ErrorIs(t, err, ErrNoToken)
	assert.Zero(t, src.calls.Load())
}

func TestRedactReplacesEverySecret(t *testing.T) {
	assert.Equal(t, "a [REDACTED] b [REDACTED] [REDACTED]", redact("a s3cret b s3cret tok", "s3cret", "", "tok"))
	assert.Equal(t, "nothing", redact("nothing"))
}

func TestConnOptionalInterfaces(t *testing.T) {
	srv := pgtest.Shared(t)
	role, pwd := srv.NewRole(t, "ifaces")
	d, err := NewDialer(srv.DSN(role, pwd, "postgres"))
	require.NoError(t, err)
	c, err := dial(t, d, sqlLoginRequest(d.ServerKey()))
	require.NoError(t, err)

	// What the pool and facade can count on from a *stdlib.Conn (pgx v5.12).
	assert.Implements(t, (*driver.Pinger)(nil), c)
	assert.Implements(t, (*driver.SessionResetter)(nil), c)
	assert.Implements(t, (*driver.ConnBeginTx)(nil), c)
	assert.Implements(t, (*driver.QueryerContext)(nil), c)
	assert.Implements(t, (*driver.ExecerContext)(nil), c)
	assert.Implements(t, (*driver.ConnPrepareContext)(nil), c)
	assert.Implements(t, (*driver.NamedValueChecker)(nil), c)
	_, isValidator := c.(driver.Validator)
	assert.False(t, isValidator, "pgx's stdlib conn has no IsValid; the pool must not expect one")
}
