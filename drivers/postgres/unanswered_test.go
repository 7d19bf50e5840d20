package postgres_test

import (
	"context"

	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
)

// TestReleaseWithRepliesStillOwedClosesTheConnection: a lease writes
// requests through the escape hatch at the protocol level (Lease.Conn's
// PgConn().Frontend()) and is released before their replies are read. pgx
// knows nothing of them: it is idle, in no transaction. The deferred reset
// used to be sent anyway, and its reply filter took the first of those
// replies for its own; the rest, a query result of the last lease, reached
// the next lease's pgx as the answer to its own request, or threw pgx out
// of step with the server until it closed the connection. The release now
// counts the requests sent and the ReadyForQuery messages pgx read, and
// closes a connection that still owes replies: the next lease gets a fresh
// one, and sees nothing of the last lease's.
func TestReleaseWithRepliesStillOwedClosesTheConnection(t *testing.T) {
	for name, mode := range map[string]pgx.QueryExecMode{
		"cached statement": pgx.QueryExecModeCacheStatement,
		"simple protocol":  pgx.QueryExecModeSimpleProtocol,
	} {
		t.Run(name, func(t *testing.T) {
			e := newPgxEnv(t, manager.Config{MaxSize: 1})
			ctx := as(t, e.alice)
			l, err := e.pool.Acquire(ctx)
			require.NoError(t, err)
			pid := backendPID(t, ctx, l)
			fe := l.Conn().PgConn().Frontend()
			fe.Send(&pgproto3.Query{String: "SELECT 'first of lease one'"})
			fe.Send(&pgproto3.Query{String: "SELECT 'second of lease one'"})
			require.NoError(t, fe.Flush())
			l.Release()
			nextLeaseSeesOnlyItsOwn(t, e, ctx, mode, pid, "the connection that still owed replies was reused")
		})
	}
}

// TestReleaseWithRepliesReadButNotParsedClosesTheConnection: the sibling of
// the test above, where the server owes nothing. A lease sends one simple
// Query of two statements through PgConn().Frontend() and reads its replies
// only up to the first statement's CommandComplete. The server sent the
// whole answer in one flush (at its ReadyForQuery), so pgx's read buffer
// now holds the second statement's result and the ReadyForQuery: every
// ReadyForQuery asked for has reached pgx (the counts agree), but pgx has
// not parsed them. A reset, deferred or full, must not follow: the next
// lease's pgx would read that result as the answer to its own request.
func TestReleaseWithRepliesReadButNotParsedClosesTheConnection(t *testing.T) {
	for name, mode := range map[string]pgx.QueryExecMode{
		"cached statement": pgx.QueryExecModeCacheStatement,
		"simple protocol":  pgx.QueryExecModeSimpleProtocol,
	} {
		t.Run(name, func(t *testing.T) {
			testRepliesReadButNotParsed(t, mode)
		})
	}
}

func testRepliesReadButNotParsed(t *testing.T, mode pgx.QueryExecMode) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1})
	ctx := as(t, e.alice)
	l, err := e.pool.Acquire(ctx)
	require.NoError(t, err)
	pid := backendPID(t, ctx, l)
	fe := l.Conn().PgConn().Frontend()
	fe.Send(&pgproto3.Query{String: "SELECT 'first of lease one'; SELECT 'second of lease one'"})
	require.NoError(t, fe.Flush())
	for {
		msg, err := fe.Receive()
		require.NoError(t, err)
		if _, ok := msg.(*pgproto3.CommandComplete); ok {
			break
		}
	}
	require.Positive(t, fe.ReadBufferLen(), "the rest of the answer should be in pgx's read buffer")
	l.Release()
	nextLeaseSeesOnlyItsOwn(t, e, ctx, mode, pid, "the connection with replies left in pgx's buffer was reused")
}

// nextLeaseSeesOnlyItsOwn acquires the identity's next lease and checks that
// its queries get their own answers, on another backend than pid (the last
// lease's, which had to be closed: reused says why).
func nextLeaseSeesOnlyItsOwn(t *testing.T, e *pgxEnv, ctx context.Context, mode pgx.QueryExecMode, pid int32, reused string) {
	t.Helper()
	l2, err := e.pool.Acquire(ctx)
	require.NoError(t, err)
	defer l2.Release()
	for i := range 3 {
		var s string
		require.NoError(t, l2.QueryRow(ctx, "SELECT 'lease two'", mode).Scan(&s), "call %d", i)
		assert.Equal(t, "lease two", s, "call %d", i)
	}
	assert.NotEqual(t, pid, backendPID(t, ctx, l2), reused)
}
