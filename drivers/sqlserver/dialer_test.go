package sqlserver_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	mssql "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/sim/tds"
	"github.com/idpool/idpool/tokens"
)

// sentinelPassword must never appear in any error or printed value.
const sentinelPassword = "S3ntinel-Pa55word-7f1c"

var signingKey = []byte("sqlserver-dialer-test-key-0123456789")

func mint(t *testing.T, upn string, exp time.Time) tokens.Token {
	t.Helper()
	v, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"upn": upn, "exp": exp.Unix()}).SignedString(signingKey)
	require.NoError(t, err)
	return tokens.Token{Value: v, ExpiresOn: exp}
}

func verify(token string) (string, time.Time, error) {
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return signingKey, nil },
		jwt.WithValidMethods([]string{"HS256"})); err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return "", time.Time{}, tds.ErrTokenExpired
		}
		return "", time.Time{}, err
	}
	exp, _ := claims.GetExpirationTime()
	upn, _ := claims["upn"].(string)
	return upn, exp.Time, nil
}

func startServer(t *testing.T) *tds.Server {
	t.Helper()
	srv, err := tds.Start(tds.Options{Users: map[string]string{"app": sentinelPassword}, VerifyToken: verify})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return srv
}

func dsnFor(srv *tds.Server, extra string) string {
	u := url.URL{Scheme: "sqlserver", User: url.UserPassword("app", sentinelPassword), Host: srv.Addr(),
		RawQuery: "database=appdb&dial+timeout=5"}
	if extra == "" {
		extra = "encrypt=disable"
	}
	u.RawQuery += "&" + extra
	return u.String()
}

// noMint is a token source that fails the test if the dialer ever mints.
func noMint(t *testing.T) tokens.Source {
	return tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		t.Error("the dialer minted a token")
		return tokens.Token{}, errors.New("must not mint")
	})
}

func tokenRequest(t *testing.T, srv *tds.Server, disc string, tok tokens.Token) actors.DialRequest {
	key, err := sqlserver.ServerKey(dsnFor(srv, ""))
	require.NoError(t, err)
	return actors.DialRequest{
		Key:      tokens.NewKey(key, disc),
		Identity: tokens.New(tokens.KindManagedIdentity, disc, noMint(t)),
		Token:    tok,
	}
}

// queryOne runs q on a raw driver connection and returns the first column.
func queryOne(t *testing.T, ctx context.Context, c driver.Conn, q string) driver.Value {
	t.Helper()
	stmt, err := c.(driver.ConnPrepareContext).PrepareContext(ctx, q)
	require.NoError(t, err)
	defer stmt.Close()
	rows, err := stmt.(driver.StmtQueryContext).QueryContext(ctx, nil)
	require.NoError(t, err)
	defer rows.Close()
	dest := make([]driver.Value, len(rows.Columns()))
	require.NoError(t, rows.Next(dest))
	require.ErrorIs(t, rows.Next(dest), io.EOF)
	return dest[0]
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestDialSQLLogin(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	d, err := sqlserver.NewDialer(dsnFor(srv, ""))
	require.NoError(t, err)
	conn, err := d.Dial(ctx, actors.DialRequest{Key: tokens.NewKey(d.ServerKey(), ""), Identity: tokens.SQLLogin()})
	require.NoError(t, err)
	defer conn.Close()
	assert.Equal(t, "app", queryOne(t, ctx, conn, "SELECT SUSER_SNAME()"))
	assert.Equal(t, "appdb", queryOne(t, ctx, conn, "SELECT DB_NAME()"))
	assert.Equal(t, 1, srv.Logins("app"))
}

func TestDialTokenUsesExactlyTheGivenToken(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	d, err := sqlserver.NewDialer(dsnFor(srv, ""))
	require.NoError(t, err)
	exp := time.Now().Add(time.Hour).Truncate(time.Second)

	var wg sync.WaitGroup
	users := []string{"alice@contoso.test", "bob@contoso.test", "carol@contoso.test"}
	got := make([]any, len(users))
	for i, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := d.Dial(ctx, tokenRequest(t, srv, "msi:"+u, mint(t, u, exp)))
			if !assert.NoError(t, err) {
				return
			}
			defer conn.Close()
			got[i] = queryOne(t, ctx, conn, "SELECT SUSER_SNAME()")
		}()
	}
	wg.Wait()
	for i, u := range users {
		assert.Equal(t, u, got[i], "each connection logs in with its own token")
		assert.Equal(t, 1, srv.Logins(u))
	}
	for _, s := range srv.Sessions() {
		assert.True(t, exp.Equal(s.TokenExpiresOn))
	}
	assert.Equal(t, 0, srv.Logins("app"), "a token dial never falls back to the DSN's SQL login")
}

func TestDialTokenIdentityWithoutTokenFailsWithoutContactingServer(t *testing.T) {
	srv := startServer(t)
	d, err := sqlserver.NewDialer(dsnFor(srv, ""))
	require.NoError(t, err)
	_, err = d.Dial(ctxT(t), tokenRequest(t, srv, "msi:system", tokens.Token{}))
	require.ErrorIs(t, err, sqlserver.ErrNoToken)
	assert.Equal(t, 0, srv.TotalLogins()+srv.FailedLogins())
}

func TestDialSQLLoginWithTokenRefused(t *testing.T) {
	srv := startServer(t)
	d, err := sqlserver.NewDialer(dsnFor(srv, ""))
	require.NoError(t, err)
	_, err = d.Dial(ctxT(t), actors.DialRequest{Identity: tokens.SQLLogin(), Token: mint(t, "x", time.Now().Add(time.Hour))})
	require.ErrorIs(t, err, sqlserver.ErrUnexpectedToken)
	assert.Equal(t, 0, srv.TotalLogins()+srv.FailedLogins())
}

func TestDialErrorsAreTypedAndRedacted(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	forged := mint(t, "eve", time.Now().Add(time.Hour))
	forged.Value += "x" // bad signature
	expired := mint(t, "bob", time.Now().Add(-time.Minute))

	d, err := sqlserver.NewDialer(dsnFor(srv, ""))
	require.NoError(t, err)
	for name, tok := range map[string]tokens.Token{"forged": forged, "expired": expired} {
		_, err := d.Dial(ctx, tokenRequest(t, srv, "msi:"+name, tok))
		var me mssql.Error
		require.True(t, errors.As(err, &me), "%s: %v", name, err)
		assert.Equal(t, int32(18456), me.Number)
		var de *sqlserver.DialError
		require.True(t, errors.As(err, &de))
		assert.Equal(t, d.ServerKey(), de.Server)
		assert.NotContains(t, err.Error(), tok.Value)
		assert.NotContains(t, err.Error(), sentinelPassword)
	}

	wrong := url.URL{Scheme: "sqlserver", User: url.UserPassword("app", sentinelPassword+"-wrong"), Host: srv.Addr(),
		RawQuery: "encrypt=disable&dial+timeout=5"}
	wd, err := sqlserver.NewDialer(wrong.String())
	require.NoError(t, err)
	_, err = wd.Dial(ctx, actors.DialRequest{Identity: tokens.SQLLogin()})
	var me mssql.Error
	require.True(t, errors.As(err, &me), "%v", err)
	assert.Equal(t, int32(18456), me.Number)
	assert.NotContains(t, err.Error(), sentinelPassword)

	srv.RefuseLogins(true)
	_, err = d.Dial(ctx, actors.DialRequest{Identity: tokens.SQLLogin()})
	require.True(t, errors.As(err, &me))
	assert.Equal(t, int32(40613), me.Number)
}

func TestDialHonoursContext(t *testing.T) {
	srv := startServer(t)
	srv.SetLoginLatency(time.Minute)
	d, err := sqlserver.NewDialer(dsnFor(srv, ""))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(ctxT(t), 100*time.Millisecond)
	defer cancel()
	_, err = d.Dial(ctx, actors.DialRequest{Identity: tokens.SQLLogin()})
	require.Error(t, err)
	assert.Equal(t, 0, srv.TotalLogins())
}

func TestDialStrictTLSConcurrently(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	d, err := sqlserver.NewDialer(dsnFor(srv, "encrypt=strict"), sqlserver.WithTLSConfig(srv.ClientTLSConfig()))
	require.NoError(t, err)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := fmt.Sprintf("user%d", i)
			conn, err := d.Dial(ctx, tokenRequest(t, srv, "msi:"+u, mint(t, u, time.Now().Add(time.Hour))))
			if assert.NoError(t, err) {
				assert.Equal(t, u, queryOne(t, ctx, conn, "SELECT SUSER_SNAME()"))
				_ = conn.Close()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 4, srv.TotalLogins())
}

func TestDialerNeverPrintsCredentials(t *testing.T) {
	srv := startServer(t)
	d, err := sqlserver.NewDialer(dsnFor(srv, ""))
	require.NoError(t, err)
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(f, d)
		assert.NotContains(t, out, sentinelPassword, f)
		assert.Contains(t, out, d.ServerKey(), f)
	}
}
