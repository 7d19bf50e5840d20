package tds_test

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSessionContextIsBounded: SQL Server caps a session context value at
// 8,000 bytes and a session's keys and values at 1 MB, and fails the
// statement past them. The simulator kept whatever it was sent, so one client
// could grow its session without limit. Replacing or removing a key frees
// its bytes, and a reset frees them all.
func TestSessionContextIsBounded(t *testing.T) {
	srv := startServer(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	db.SetMaxOpenConns(1)
	ctx := ctxT(t)
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	set := func(key string, value any) error {
		_, err := conn.ExecContext(ctx, "sp_set_session_context", sql.Named("key", key), sql.Named("value", value))
		return err
	}

	requireSQLError(t, set("big", strings.Repeat("x", 4001)), 15665) // 8,002 bytes
	require.NoError(t, set("big", strings.Repeat("x", 4000)))
	require.NoError(t, set("big", nil))

	// Keys of 8 bytes and values of 8,000: the 131st passes 1 MB.
	value := strings.Repeat("v", 4000)
	for i := range 130 {
		require.NoError(t, set(fmt.Sprintf("k%03d", i), value), i)
	}
	err = set("k130", value)
	requireSQLError(t, err, 15665)
	assert.Contains(t, err.Error(), "1 MB")
	var got sql.NullString
	require.NoError(t, conn.QueryRowContext(ctx, "SELECT SESSION_CONTEXT(N'k129')").Scan(&got))
	assert.Equal(t, value, got.String, "what was set before stays")

	require.NoError(t, set("k000", "short"), "replacing a key frees its bytes")
	require.NoError(t, set("k130", "short"))
	require.NoError(t, set("k001", nil), "removing a key frees its bytes")
	require.NoError(t, set("k131", value))
	require.NoError(t, conn.Close())

	// The next lease of the connection is reset: the context is empty again.
	conn, err = db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	for i := range 130 {
		require.NoError(t, set(fmt.Sprintf("k%03d", i), value), i)
	}
}
