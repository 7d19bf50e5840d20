package tds_test

import (
	"database/sql"
	"net/url"
	"testing"
	"time"

	"github.com/microsoft/go-mssqldb/azuread"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/tds"
)

func TestSQLLoginBasics(t *testing.T) {
	srv := startServer(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	ctx := ctxT(t)
	require.NoError(t, db.PingContext(ctx))

	var one int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT 1").Scan(&one))
	assert.Equal(t, 1, one)

	var who string
	require.NoError(t, db.QueryRowContext(ctx, "SELECT SUSER_SNAME()").Scan(&who))
	assert.Equal(t, "alice", who)

	var spid, tc int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT @@SPID, @@TRANCOUNT").Scan(&spid, &tc))
	assert.Equal(t, 0, tc)
	sessions := srv.Sessions()
	require.Len(t, sessions, 1)
	assert.Equal(t, spid, sessions[0].SPID)
	assert.Equal(t, "alice", sessions[0].Login)
	assert.False(t, sessions[0].InTx)
	assert.True(t, sessions[0].TokenExpiresOn.IsZero())
	assert.Equal(t, 1, srv.Logins("alice"))
	assert.Equal(t, 1, srv.TotalLogins())
}

func TestTokenLogin(t *testing.T) {
	srv := startServer(t)
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	db := openTokenDB(t, srv, mintToken(t, testKey, "bob@contoso.test", exp))
	ctx := ctxT(t)
	var who string
	require.NoError(t, db.QueryRowContext(ctx, "SELECT SUSER_SNAME()").Scan(&who))
	assert.Equal(t, "bob@contoso.test", who)
	sessions := srv.Sessions()
	require.Len(t, sessions, 1)
	assert.True(t, exp.Equal(sessions[0].TokenExpiresOn), "expiry %v, want %v", sessions[0].TokenExpiresOn, exp)
	assert.Equal(t, 1, srv.Logins("bob@contoso.test"))
}

func TestLoginFailuresGet18456(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	now := time.Now()
	cases := map[string]func() error{
		"wrong password": func() error {
			return openDB(t, sqlDSN(srv, "alice", "not-it", "")).PingContext(ctx)
		},
		"unknown user": func() error {
			return openDB(t, sqlDSN(srv, "mallory", alicePassword, "")).PingContext(ctx)
		},
		"forged token": func() error {
			return openTokenDB(t, srv, mintToken(t, []byte("some-other-signing-key-000000000"), "bob", now.Add(time.Hour))).PingContext(ctx)
		},
		"expired token": func() error {
			return openTokenDB(t, srv, mintToken(t, testKey, "bob", now.Add(-time.Minute))).PingContext(ctx)
		},
		"not a JWT": func() error {
			return openTokenDB(t, srv, "not-a-token").PingContext(ctx)
		},
	}
	for name, login := range cases {
		t.Run(name, func(t *testing.T) {
			err := login()
			requireSQLError(t, err, 18456)
			assert.NotContains(t, err.Error(), alicePassword)
			if name == "expired token" {
				assert.Contains(t, err.Error(), "Token is expired")
			}
		})
	}
	assert.Equal(t, 0, srv.TotalLogins())
	assert.Equal(t, len(cases), srv.FailedLogins())
	assert.Empty(t, srv.Sessions())
}

func TestTokenLoginRefusedWithoutVerifier(t *testing.T) {
	srv, err := tds.Start(tds.Options{})
	require.NoError(t, err)
	defer srv.Close()
	err = openTokenDB(t, srv, mintToken(t, testKey, "bob", time.Now().Add(time.Hour))).PingContext(ctxT(t))
	requireSQLError(t, err, 18456)
}

func TestVerifierExpiryCheckedByServerClock(t *testing.T) {
	// A verifier that accepts anything but reports an expiry in the past:
	// the server itself must refuse the login.
	clock := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	srv, err := tds.Start(tds.Options{
		Now: func() time.Time { return clock },
		VerifyToken: func(string) (string, time.Time, error) {
			return "carol", clock.Add(-time.Second), nil
		},
	})
	require.NoError(t, err)
	defer srv.Close()
	err = openTokenDB(t, srv, "whatever").PingContext(ctxT(t))
	requireSQLError(t, err, 18456)
	assert.Contains(t, err.Error(), "Token is expired")
}

func TestStartRejectsNonLoopback(t *testing.T) {
	_, err := tds.Start(tds.Options{Addr: "0.0.0.0:0"})
	require.Error(t, err)
	_, err = tds.Start(tds.Options{Addr: "192.0.2.1:1433"})
	require.Error(t, err)
}

func TestAzureADServicePrincipalAccessToken(t *testing.T) {
	// go-mssqldb's azuread driver sends a caller-supplied token through the
	// same FEDAUTH security-token extension.
	srv := startServer(t)
	tok := mintToken(t, testKey, "app-sp@contoso.test", timeInAnHour())
	c, err := azuread.NewConnector("sqlserver://" + srv.Addr() + "?encrypt=disable&dial+timeout=5" +
		"&fedauth=ActiveDirectoryServicePrincipalAccessToken&password=" + url.QueryEscape(tok))
	require.NoError(t, err)
	db := sql.OpenDB(c)
	defer db.Close()
	var who string
	require.NoError(t, db.QueryRowContext(ctxT(t), "SELECT SUSER_SNAME()").Scan(&who))
	assert.Equal(t, "app-sp@contoso.test", who)
}
