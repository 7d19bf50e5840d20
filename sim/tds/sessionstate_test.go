package tds_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// querier is a *sql.DB, *sql.Conn or *sql.Tx.
type querier interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

// userOptions reads DBCC USEROPTIONS into a map.
func userOptions(t *testing.T, ctx context.Context, q querier) map[string]string {
	t.Helper()
	rows, err := q.QueryContext(ctx, "DBCC USEROPTIONS")
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		require.NoError(t, rows.Scan(&k, &v))
		out[k] = v
	}
	require.NoError(t, rows.Err())
	return out
}

// sessionState is what a test of isolation reads of a session.
type sessionState struct {
	isolation, xactAbort, arithabort string
	lockTimeout                      int
	contextInfo                      []byte
	tenant                           any
}

func readSessionState(t *testing.T, ctx context.Context, q querier) sessionState {
	t.Helper()
	o := userOptions(t, ctx, q)
	st := sessionState{isolation: o["isolation level"], xactAbort: o["xact_abort"], arithabort: o["arithabort"]}
	require.NoError(t, q.QueryRowContext(ctx, "SELECT @@LOCK_TIMEOUT, CONTEXT_INFO(), SESSION_CONTEXT(N'tenant')").
		Scan(&st.lockTimeout, &st.contextInfo, &st.tenant))
	return st
}

// defaultState is a new session's.
var defaultState = sessionState{isolation: "read committed", lockTimeout: -1}

// TestResetConnectionRestoresSetOptionsAndContexts: SET options,
// CONTEXT_INFO and SESSION_CONTEXT (read-only keys too) are the session's
// until a request carrying RESETCONNECTION, which restores a new session's.
func TestResetConnectionRestoresSetOptionsAndContexts(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	db.SetMaxOpenConns(1)

	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	var spid int
	require.NoError(t, conn.QueryRowContext(ctx, "SELECT @@SPID").Scan(&spid))
	assert.Equal(t, defaultState, readSessionState(t, ctx, conn))
	_, err = conn.ExecContext(ctx, `SET TRANSACTION ISOLATION LEVEL SERIALIZABLE; SET LOCK_TIMEOUT 500;
		SET XACT_ABORT ON; SET ARITHABORT ON; SET CONTEXT_INFO 0x0A0B0C;
		EXEC sys.sp_set_session_context @key = N'tenant', @value = N'alice', @read_only = 1`)
	require.NoError(t, err)
	set := sessionState{isolation: "serializable", xactAbort: "SET", arithabort: "SET", lockTimeout: 500,
		contextInfo: []byte{10, 11, 12}, tenant: "alice"}
	assert.Equal(t, set, readSessionState(t, ctx, conn), "the session keeps what it set")
	_, err = conn.ExecContext(ctx, "EXEC sp_set_session_context N'tenant', N'mallory'")
	requireSQLError(t, err, 15664)
	assert.Equal(t, set, readSessionState(t, ctx, conn), "a read-only key cannot change")
	require.NoError(t, conn.Close())

	conn, err = db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	var spid2 int
	require.NoError(t, conn.QueryRowContext(ctx, "SELECT @@SPID").Scan(&spid2))
	require.Equal(t, spid, spid2, "same physical session")
	assert.Equal(t, defaultState, readSessionState(t, ctx, conn), "the reset restored a new session's state")
	_, err = conn.ExecContext(ctx, "EXEC sp_set_session_context N'tenant', N'bob'")
	require.NoError(t, err, "the read-only key went with the reset")
}

// TestSessionContextArguments: sp_set_session_context by position, by name
// and with parameters (go-mssqldb sends those through sp_executesql); a
// NULL value removes the key; wrong arguments get SQL Server's errors.
func TestSessionContextArguments(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()

	get := func(key string) any {
		var v any
		require.NoError(t, conn.QueryRowContext(ctx, "SELECT SESSION_CONTEXT(@p1)", key).Scan(&v))
		return v
	}
	_, err = conn.ExecContext(ctx, "EXECUTE sp_set_session_context @value = 42, @key = N'n'")
	require.NoError(t, err)
	assert.EqualValues(t, 42, get("n"))
	_, err = conn.ExecContext(ctx, "EXEC sp_set_session_context @key = @p1, @value = @p2", "tenant", "contoso")
	require.NoError(t, err)
	assert.Equal(t, "contoso", get("tenant"))
	assert.Nil(t, get("other"))
	_, err = conn.ExecContext(ctx, "EXEC sp_set_session_context 'tenant', NULL")
	require.NoError(t, err)
	assert.Nil(t, get("tenant"), "NULL removes the key")

	// A bare procedure name with arguments: go-mssqldb sends an RPC by name.
	_, err = conn.ExecContext(ctx, "sys.sp_set_session_context", sql.Named("key", "rpc"), sql.Named("value", []byte{1, 2}))
	require.NoError(t, err)
	assert.Equal(t, []byte{1, 2}, get("rpc"))
	_, err = conn.ExecContext(ctx, "sp_set_session_context", "rpc", "by position", true)
	require.NoError(t, err)
	assert.Equal(t, "by position", get("rpc"))
	_, err = conn.ExecContext(ctx, "sp_set_session_context", "rpc", "again")
	requireSQLError(t, err, 15664)
	_, err = conn.ExecContext(ctx, "sp_set_session_context", sql.Named("value", 1))
	requireSQLError(t, err, 201)

	_, err = conn.ExecContext(ctx, "EXEC sp_set_session_context @value = 1")
	requireSQLError(t, err, 201)
	_, err = conn.ExecContext(ctx, "EXEC sp_set_session_context @key = N'k', @colour = 1")
	requireSQLError(t, err, 8145)
	_, err = conn.ExecContext(ctx, "EXEC sp_no_such_procedure 1")
	requireSQLError(t, err, 2812)
	_, err = conn.ExecContext(ctx, "SET CONTEXT_INFO NULL")
	requireSQLError(t, err, 8116)
	_, err = conn.ExecContext(ctx, "SET TRANSACTION ISOLATION LEVEL READ SOMETIMES")
	requireSQLError(t, err, 102)
	_, err = conn.ExecContext(ctx, "SET LOCK_TIMEOUT -2")
	requireSQLError(t, err, 2742)
}

// TestBeginTxIsolationOutlivesTheTransaction: an isolation level given to
// BeginTx (a TM begin request) stays the session's after the transaction,
// as in SQL Server, until the reset.
func TestBeginTxIsolationOutlivesTheTransaction(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	assert.Equal(t, "serializable", userOptions(t, ctx, conn)["isolation level"])
	require.NoError(t, conn.Close())
	assert.Equal(t, "read committed", userOptions(t, ctx, db)["isolation level"])
}

// TestResetRefusedUnderExecuteAs: EXECUTE AS switches what SUSER_SNAME()
// and USER_NAME() answer until REVERT; a reset under an impersonation not
// reverted fails with error 18059 and ends the connection, as in SQL Server,
// so the impersonation never reaches the connection's next user.
func TestResetRefusedUnderExecuteAs(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	db.SetMaxOpenConns(1)

	who := func(q querier) (login, user string) {
		require.NoError(t, q.QueryRowContext(ctx, "SELECT SUSER_SNAME(), USER_NAME()").Scan(&login, &user))
		return login, user
	}
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "EXECUTE AS USER = 'reporting'")
	require.NoError(t, err)
	login, user := who(conn)
	assert.Equal(t, [2]string{"alice", "reporting"}, [2]string{login, user})
	_, err = conn.ExecContext(ctx, "EXECUTE AS LOGIN = 'mallory'")
	require.NoError(t, err)
	login, user = who(conn)
	assert.Equal(t, [2]string{"mallory", "mallory"}, [2]string{login, user})
	_, err = conn.ExecContext(ctx, "REVERT; REVERT; REVERT")
	require.NoError(t, err, "REVERT with nothing to revert does nothing")
	login, user = who(conn)
	assert.Equal(t, [2]string{"alice", "dbo"}, [2]string{login, user})
	require.NoError(t, conn.Close())

	// Reverted: the reset succeeds on the same session.
	conn, err = db.Conn(ctx)
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "EXECUTE AS LOGIN = 'mallory'")
	require.NoError(t, err)
	var spid int
	require.NoError(t, conn.QueryRowContext(ctx, "SELECT @@SPID").Scan(&spid))
	require.NoError(t, conn.Close())
	assert.Zero(t, srv.ResetsRefused())

	// Not reverted: the next user's first request carries the reset, which
	// fails, and the server ends the session (go-mssqldb finds out at its
	// next read).
	conn, err = db.Conn(ctx)
	require.NoError(t, err)
	var got string
	err = conn.QueryRowContext(ctx, "SELECT SUSER_SNAME()").Scan(&got)
	requireSQLError(t, err, 18059)
	assert.Empty(t, got)
	assert.Equal(t, 1, srv.ResetsRefused())
	require.Eventually(t, func() bool {
		for _, s := range srv.Sessions() {
			if s.SPID == spid {
				return false
			}
		}
		return true
	}, 10*time.Second, 5*time.Millisecond, "the refused session ended")
	err = conn.QueryRowContext(ctx, "SELECT SUSER_SNAME()").Scan(&got)
	require.Error(t, err, "the connection is closed")
	assert.Empty(t, got)
	_ = conn.Close()
	login, _ = who(db)
	assert.Equal(t, "alice", login, "a new session")
}
