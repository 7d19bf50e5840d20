package tds_test

import (
	"fmt"
	"strings"
	"testing"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The simulator's limits, as its package doc states them.
const (
	executeAsDepth = 32
	tempTables     = 1024
	serverTables   = 4096
)

// requireLimitError checks err is error 50000 whose message has want.
func requireLimitError(t *testing.T, err error, want string) {
	t.Helper()
	requireSQLError(t, err, 50000)
	var me mssql.Error
	require.ErrorAs(t, err, &me)
	assert.Contains(t, me.Message, want)
}

// createTables is one batch creating the tables prefix<from> .. prefix<to-1>.
func createTables(prefix string, from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "CREATE TABLE %s%d (id int);\n", prefix, i)
	}
	return b.String()
}

// TestExecuteAsNestingIsBounded: each EXECUTE AS stays in force until its
// REVERT, and a session kept every one, so a client looping EXECUTE AS grew
// its session without limit. Past the limit EXECUTE AS fails with error
// 50000 naming it, and the contexts in force stay as they were.
func TestExecuteAsNestingIsBounded(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	for i := range executeAsDepth {
		_, err := conn.ExecContext(ctx, fmt.Sprintf("EXECUTE AS USER = 'u%d'", i))
		require.NoError(t, err, "EXECUTE AS number %d", i+1)
	}
	_, err = conn.ExecContext(ctx, "EXECUTE AS USER = 'one_too_many'")
	requireLimitError(t, err, fmt.Sprintf("at most %d EXECUTE AS contexts", executeAsDepth))
	var user string
	require.NoError(t, conn.QueryRowContext(ctx, "SELECT USER_NAME()").Scan(&user))
	assert.Equal(t, fmt.Sprintf("u%d", executeAsDepth-1), user, "the refused EXECUTE AS changed nothing")

	_, err = conn.ExecContext(ctx, "REVERT; EXECUTE AS USER = 'again'")
	require.NoError(t, err, "after a REVERT there is room again")
	_, err = conn.ExecContext(ctx, strings.Repeat("REVERT; ", executeAsDepth))
	require.NoError(t, err)
	require.NoError(t, conn.QueryRowContext(ctx, "SELECT USER_NAME()").Scan(&user))
	assert.Equal(t, "dbo", user)
}

// TestTempTablesAreBounded: a session's local temporary tables lived until
// its end or reset, so a client creating them in a loop grew its session
// without limit. Past the limit CREATE TABLE fails with error 50000 naming
// it; another session has its own, and the reset makes room again.
func TestTempTablesAreBounded(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	db.SetMaxOpenConns(2)
	db.SetMaxIdleConns(2)
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, createTables("#t", 0, tempTables))
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "CREATE TABLE #one_too_many (id int)")
	requireLimitError(t, err, fmt.Sprintf("limit of %d temporary tables in this session", tempTables))
	_, err = conn.ExecContext(ctx, "INSERT INTO #t0 VALUES (1)")
	require.NoError(t, err, "the session's tables are still there")

	other, err := db.Conn(ctx)
	require.NoError(t, err)
	_, err = other.ExecContext(ctx, "CREATE TABLE #mine (id int)")
	require.NoError(t, err, "another session has its own limit")
	require.NoError(t, other.Close())

	require.NoError(t, conn.Close())
	// The next Conn is either session, reset on its first request; neither
	// would have room for tempTables more without the reset.
	conn, err = db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, createTables("#t", 0, tempTables))
	require.NoError(t, err, "the reset dropped the temporary tables")
}

// TestServerTablesAreBounded: tables, and global temporary tables, are never
// dropped, so clients creating them in a loop grew the server without limit.
// Past the limit CREATE TABLE fails with error 50000 naming it.
func TestServerTablesAreBounded(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	const batch = 512
	for from := 0; from < serverTables; from += batch {
		prefix := "t"
		if from >= serverTables/2 {
			prefix = "##g"
		}
		_, err := db.ExecContext(ctx, createTables(prefix, from, from+batch))
		require.NoError(t, err)
	}
	for _, name := range []string{"one_too_many", "##one_too_many"} {
		_, err := db.ExecContext(ctx, "CREATE TABLE "+name+" (id int)")
		requireLimitError(t, err, fmt.Sprintf("limit of %d tables on the server", serverTables))
	}
	_, err := db.ExecContext(ctx, "CREATE TABLE #local (id int)")
	require.NoError(t, err, "a session's temporary tables are not the server's")
}
