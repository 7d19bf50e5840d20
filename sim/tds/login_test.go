package tds_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
