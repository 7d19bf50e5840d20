package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// TestPoolRunsEachCallAsItsIdentity: every one-shot call and every lease
// runs as the identity in its ctx, under concurrency, and a ctx without an
// identity gets nothing.
func TestPoolRunsEachCallAsItsIdentity(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 2})

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		id, role := e.alice, e.aliceRole
		if g%2 == 1 {
			id, role = e.bob, e.bobRole
		}
		ctx := as(t, id)
		wg.Go(func() {
			for range 10 {
				var who string
				if err := e.pool.QueryRow(ctx, "SELECT current_user").Scan(&who); err != nil {
					errs <- err
					return
				}
				if who != role {
					errs <- fmt.Errorf("QueryRow as %s ran as %s", role, who)
				}
				err := e.pool.AcquireFunc(ctx, func(l *postgres.Lease) error {
					rows, err := l.Query(ctx, "SELECT current_user UNION ALL SELECT session_user")
					if err != nil {
						return err
					}
					names, err := pgx.CollectRows(rows, pgx.RowTo[string])
					if err != nil {
						return err
					}
					if names[0] != role || names[1] != role {
						return fmt.Errorf("lease as %s ran as %v", role, names)
					}
					return nil
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// A dial begun for a waiter that a release served first may still be
	// on its way: its login is in the server's log before the pool counts
	// the open. Compare once none is.
	require.Eventually(t, func() bool { return e.pool.Manager().Stats().Total.Dialing == 0 },
		10*time.Second, time.Millisecond, "a dial does not end")
	st := e.pool.Manager().Stats()
	assert.Equal(t, 2, st.Pools, "one pool per identity")
	assert.Equal(t, int(st.Total.Opens), e.srv.Logins(t, e.aliceRole)+e.srv.Logins(t, e.bobRole),
		"every physical open was one login of its identity's role")

	_, err := e.pool.Exec(context.Background(), "SELECT 1")
	assert.ErrorIs(t, err, tokens.ErrNoIdentity)
	_, err = e.pool.Acquire(context.Background())
	assert.ErrorIs(t, err, tokens.ErrNoIdentity)
	assert.ErrorIs(t, e.pool.QueryRow(context.Background(), "SELECT 1").Scan(new(int)), tokens.ErrNoIdentity)
}

// TestLeaseRefusesAnotherIdentitysCtx: a lease is bound to its identity; a
// call whose ctx carries another one is refused before it runs, on the
// lease, its transactions and batches. A ctx with no identity runs on the
// lease.
func TestLeaseRefusesAnotherIdentitysCtx(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1})
	ctx, bobCtx := as(t, e.alice), as(t, e.bob)
	l, err := e.pool.Acquire(ctx)
	require.NoError(t, err)
	defer l.Release()

	_, err = l.Exec(bobCtx, "CREATE TABLE bobs (id int)")
	assert.ErrorIs(t, err, manager.ErrIdentityMismatch)
	_, err = l.Query(bobCtx, "SELECT 1")
	assert.ErrorIs(t, err, manager.ErrIdentityMismatch)
	assert.ErrorIs(t, l.QueryRow(bobCtx, "SELECT 1").Scan(new(int)), manager.ErrIdentityMismatch)
	assert.ErrorIs(t, l.SendBatch(bobCtx, &pgx.Batch{}).Close(), manager.ErrIdentityMismatch)
	_, err = l.CopyFrom(bobCtx, pgx.Identifier{"bobs"}, []string{"id"}, pgx.CopyFromRows([][]any{{1}}))
	assert.ErrorIs(t, err, manager.ErrIdentityMismatch)
	_, err = l.BeginTx(bobCtx, pgx.TxOptions{})
	assert.ErrorIs(t, err, manager.ErrIdentityMismatch)

	tx, err := l.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(bobCtx, "CREATE TABLE bobs (id int)")
	assert.ErrorIs(t, err, manager.ErrIdentityMismatch)
	assert.ErrorIs(t, tx.Commit(bobCtx), manager.ErrIdentityMismatch, "refused: the transaction goes on")
	_, err = tx.Exec(context.Background(), "CREATE TABLE plain (id int)")
	assert.NoError(t, err, "a ctx without an identity runs on the lease")
	require.NoError(t, tx.Commit(ctx))

	assert.Equal(t, int64(0), scalar[int64](t, ctx, l, "SELECT count(*) FROM pg_tables WHERE tablename = 'bobs'"),
		"no refused call ran")
	assert.Equal(t, int64(1), scalar[int64](t, ctx, l, "SELECT count(*) FROM pg_tables WHERE tablename = 'plain'"))
}

// TestCopyFromAndSendBatch: COPY and batches work through the pool and on a
// lease, as the lease's identity.
func TestCopyFromAndSendBatch(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1})
	ctx := as(t, e.alice)
	e.createItems(t)

	src := make([][]any, 500)
	for i := range src {
		src[i] = []any{i, fmt.Sprintf("item %d", i)}
	}
	n, err := e.pool.CopyFrom(ctx, pgx.Identifier{"items"}, []string{"id", "name"}, pgx.CopyFromRows(src))
	require.NoError(t, err)
	assert.Equal(t, int64(500), n)
	assert.Equal(t, int64(500), e.countItems(t))

	b := &pgx.Batch{}
	b.Queue("INSERT INTO items VALUES (1000, 'batched')")
	var who string
	b.Queue("SELECT current_user").QueryRow(func(r pgx.Row) error { return r.Scan(&who) })
	b.Queue("SELECT id FROM items WHERE id < 3 ORDER BY id")
	br := e.pool.SendBatch(ctx, b)
	tag, err := br.Exec()
	require.NoError(t, err)
	assert.Equal(t, int64(1), tag.RowsAffected())
	require.Equal(t, 1, e.busy(), "the batch holds its lease until Close")
	require.NoError(t, br.Close(), "Close runs the queued callbacks")
	assert.Equal(t, e.aliceRole, who)
	assert.Zero(t, e.busy(), "Close released the lease")
	assert.Equal(t, int64(501), e.countItems(t))

	// On a lease: COPY into a temporary table, read back in a batch.
	err = e.pool.AcquireFunc(ctx, func(l *postgres.Lease) error {
		if _, err := l.Exec(ctx, "CREATE TEMP TABLE scratch (v int)"); err != nil {
			return err
		}
		n, err := l.CopyFrom(ctx, pgx.Identifier{"scratch"}, []string{"v"}, pgx.CopyFromSlice(3, func(i int) ([]any, error) {
			return []any{i * 10}, nil
		}))
		if err != nil || n != 3 {
			return fmt.Errorf("copied %d: %w", n, err)
		}
		b := &pgx.Batch{}
		b.Queue("SELECT sum(v) FROM scratch")
		b.Queue("SELECT v FROM scratch ORDER BY v")
		br := l.SendBatch(ctx, b)
		defer br.Close()
		var sum int64
		if err := br.QueryRow().Scan(&sum); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		vs, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return err
		}
		assert.Equal(t, int64(30), sum)
		assert.Equal(t, []int32{0, 10, 20}, vs)
		return br.Close()
	})
	require.NoError(t, err)
}

// TestBeginTxCommitAndRollback: a pool transaction holds its lease until
// Commit or Rollback, which release it; a deferred Rollback after Commit is
// harmless; savepoints work on a lease's transaction.
func TestBeginTxCommitAndRollback(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1})
	ctx := as(t, e.alice)
	e.createItems(t)

	commit := func() error {
		tx, err := e.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable})
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(ctx) }() // after Commit: pgx.ErrTxClosed
		if _, err := tx.Exec(ctx, "INSERT INTO items VALUES (1, 'kept')"); err != nil {
			return err
		}
		require.Equal(t, 1, e.busy())
		return tx.Commit(ctx)
	}
	require.NoError(t, commit())
	assert.Zero(t, e.busy())

	tx, err := e.pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "INSERT INTO items VALUES (2, 'rolled back')")
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))
	assert.ErrorIs(t, tx.Rollback(ctx), pgx.ErrTxClosed)
	assert.ErrorIs(t, tx.Commit(ctx), pgx.ErrTxClosed)
	assert.Zero(t, e.busy())
	assert.Equal(t, int64(1), e.countItems(t))

	// A failed commit releases too: here, of a transaction a failed
	// statement aborted.
	tx, err = e.pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "INSERT INTO items VALUES (1, 'duplicate')")
	require.Error(t, err)
	assert.ErrorIs(t, tx.Commit(ctx), pgx.ErrTxCommitRollback)
	assert.Zero(t, e.busy())

	// Savepoints on a lease's transaction; the lease outlives it.
	l, err := e.pool.Acquire(ctx)
	require.NoError(t, err)
	defer l.Release()
	tx, err = l.BeginTx(ctx, pgx.TxOptions{})
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "INSERT INTO items VALUES (3, 'outer')")
	require.NoError(t, err)
	inner, err := tx.Begin(ctx)
	require.NoError(t, err)
	_, err = inner.Exec(ctx, "INSERT INTO items VALUES (4, 'inner')")
	require.NoError(t, err)
	require.NoError(t, inner.Rollback(ctx))
	require.NoError(t, tx.Commit(ctx))
	assert.Equal(t, []int32{1, 3}, collect[int32](t, ctx, l, "SELECT id FROM items ORDER BY id"))
}

func collect[T any](t *testing.T, ctx context.Context, l *postgres.Lease, sql string) []T {
	t.Helper()
	rows, err := l.Query(ctx, sql)
	require.NoError(t, err)
	vs, err := pgx.CollectRows(rows, pgx.RowTo[T])
	require.NoError(t, err)
	return vs
}

// TestAcquireFuncReleases: AcquireFunc hands the lease back when f returns
// an error and when f panics (closing the connection then), so a pool of
// one is never left empty.
func TestAcquireFuncReleases(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1})
	ctx := as(t, e.alice)
	var pid int32
	boom := errors.New("boom")
	err := e.pool.AcquireFunc(ctx, func(l *postgres.Lease) error {
		pid = backendPID(t, ctx, l)
		return boom
	})
	assert.ErrorIs(t, err, boom)
	assert.Zero(t, e.busy())

	// An application error keeps the connection.
	var again int32
	require.NoError(t, e.pool.AcquireFunc(ctx, func(l *postgres.Lease) error {
		again = backendPID(t, ctx, l)
		return nil
	}))
	assert.Equal(t, pid, again)

	func() {
		defer func() { assert.Equal(t, "panic in f", recover()) }()
		_ = e.pool.AcquireFunc(ctx, func(l *postgres.Lease) error {
			backendPID(t, ctx, l)
			panic("panic in f")
		})
	}()
	assert.Zero(t, e.busy(), "released on panic")

	var after int32
	require.NoError(t, e.pool.AcquireFunc(ctx, func(l *postgres.Lease) error {
		after = backendPID(t, ctx, l)
		return nil
	}))
	assert.NotEqual(t, pid, after, "the connection f panicked on was closed, not reused")
}

// TestUseAfterReleaseIsRefused: once released, nothing reached from a
// lease touches its connection, which may serve another caller by then.
func TestUseAfterReleaseIsRefused(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1})
	ctx := as(t, e.alice)
	e.createItems(t)
	l, err := e.pool.Acquire(ctx)
	require.NoError(t, err)
	require.NotNil(t, l.Conn())
	tx, err := l.Begin(ctx)
	require.NoError(t, err)
	pid := backendPID(t, ctx, l)
	l.Release()
	l.Release() // idempotent

	assert.Nil(t, l.Conn())
	_, err = l.Exec(ctx, "SELECT 1")
	assert.ErrorIs(t, err, manager.ErrLeaseReleased)
	_, err = l.Query(ctx, "SELECT 1")
	assert.ErrorIs(t, err, manager.ErrLeaseReleased)
	assert.ErrorIs(t, l.QueryRow(ctx, "SELECT 1").Scan(new(int)), manager.ErrLeaseReleased)
	assert.ErrorIs(t, l.SendBatch(ctx, &pgx.Batch{}).Close(), manager.ErrLeaseReleased)
	_, err = l.CopyFrom(ctx, pgx.Identifier{"items"}, []string{"id", "name"}, pgx.CopyFromRows([][]any{{1, "x"}}))
	assert.ErrorIs(t, err, manager.ErrLeaseReleased)
	_, err = l.BeginTx(ctx, pgx.TxOptions{})
	assert.ErrorIs(t, err, manager.ErrLeaseReleased)
	_, err = tx.Exec(ctx, "INSERT INTO items VALUES (1, 'late')")
	assert.ErrorIs(t, err, manager.ErrLeaseReleased)
	assert.ErrorIs(t, tx.Commit(ctx), manager.ErrLeaseReleased)
	assert.ErrorIs(t, tx.Rollback(ctx), pgx.ErrTxClosed)

	// The transaction left open closed the connection rather than let the
	// next lease inherit it; nothing late was written.
	assert.Zero(t, e.countItems(t))
	l2, err := e.pool.Acquire(ctx)
	require.NoError(t, err)
	defer l2.Release()
	assert.NotEqual(t, pid, backendPID(t, ctx, l2))
}

// TestRowsOpenAtRelease: rows still open when their lease is released stop
// reading (the guard refuses), and the connection, mid-result, is closed
// rather than reused.
func TestRowsOpenAtRelease(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1})
	ctx := as(t, e.alice)
	l, err := e.pool.Acquire(ctx)
	require.NoError(t, err)
	pid := backendPID(t, ctx, l)
	rows, err := l.Query(ctx, "SELECT generate_series(1, 100000)")
	require.NoError(t, err)
	require.True(t, rows.Next())
	var v int32
	require.NoError(t, rows.Scan(&v))
	l.Release()

	assert.False(t, rows.Next())
	assert.ErrorIs(t, rows.Err(), manager.ErrLeaseReleased)
	assert.ErrorIs(t, rows.Scan(&v), manager.ErrLeaseReleased)
	assert.Nil(t, rows.RawValues())
	assert.Nil(t, rows.FieldDescriptions())
	assert.Nil(t, rows.Conn())
	rows.Close()

	l2, err := e.pool.Acquire(ctx)
	require.NoError(t, err)
	defer l2.Release()
	assert.NotEqual(t, pid, backendPID(t, ctx, l2), "a connection released mid-result is not reused")
}

// TestPoolQueryHoldsItsLeaseUntilTheRowsClose: the pool's Query, QueryRow
// and SendBatch hand their lease back when the result is done, and not
// before.
func TestPoolQueryHoldsItsLeaseUntilTheRowsClose(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1})
	ctx := as(t, e.alice)

	rows, err := e.pool.Query(ctx, "SELECT generate_series(1, 3)")
	require.NoError(t, err)
	assert.Equal(t, 1, e.busy())
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = e.pool.Acquire(short)
	cancel()
	assert.ErrorIs(t, err, manager.ErrAcquireTimeout, "the rows hold the identity's one connection")
	rows.Close()
	assert.Zero(t, e.busy(), "Close released the lease")
	rows.Close()

	// Reading to the end releases, as pgx closes rows then.
	rows, err = e.pool.Query(ctx, "SELECT generate_series(1, 3)")
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	require.NoError(t, err)
	assert.Equal(t, []int32{1, 2, 3}, got)
	assert.Equal(t, "SELECT 3", rows.CommandTag().String())
	assert.Zero(t, e.busy())

	// A failing query releases at once, and its error is in Err too.
	rows, err = e.pool.Query(ctx, "SELECT * FROM no_such_table")
	if err == nil {
		assert.False(t, rows.Next())
		err = rows.Err()
		rows.Close()
	}
	assert.ErrorContains(t, err, "no_such_table")
	assert.Zero(t, e.busy())

	assert.ErrorIs(t, e.pool.QueryRow(ctx, "SELECT 1 WHERE false").Scan(new(int)), pgx.ErrNoRows)
	assert.Zero(t, e.busy(), "Scan released the lease")
}

// TestReleaseResetsTheSession: whatever a lease set in its session is gone
// for the next lease on the same backend.
func TestReleaseResetsTheSession(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1})
	ctx := as(t, e.alice)
	var pid int32
	require.NoError(t, e.pool.AcquireFunc(ctx, func(l *postgres.Lease) error {
		pid = backendPID(t, ctx, l)
		for _, sql := range []string{
			"SET search_path = pg_catalog",
			"SET application_name = 'leaked'",
			"SELECT set_config('app.tenant', 'alice-secret', false)",
			"CREATE TEMP TABLE leftover (v int)",
			"PREPARE leaked_stmt AS SELECT 1",
		} {
			if _, err := l.Exec(ctx, sql); err != nil {
				return err
			}
		}
		_, err := l.Conn().Prepare(ctx, "pgx_named", "SELECT 42")
		require.NoError(t, err)
		assert.Equal(t, "pg_catalog", scalar[string](t, ctx, l, "SHOW search_path"), "set in this lease")
		assert.Equal(t, "alice-secret", scalar[string](t, ctx, l, "SELECT current_setting('app.tenant')"))
		return nil
	}))
	require.NoError(t, e.pool.AcquireFunc(ctx, func(l *postgres.Lease) error {
		require.Equal(t, pid, backendPID(t, ctx, l), "the same session, reused")
		assert.Equal(t, `"$user", public`, scalar[string](t, ctx, l, "SHOW search_path"))
		assert.Empty(t, scalar[string](t, ctx, l, "SHOW application_name"))
		assert.Empty(t, scalar[string](t, ctx, l, "SELECT coalesce(current_setting('app.tenant', true), '')"))
		assert.Equal(t, int64(0), scalar[int64](t, ctx, l,
			"SELECT count(*) FROM pg_prepared_statements WHERE name IN ('leaked_stmt', 'pgx_named')"))
		_, err := l.Exec(ctx, "SELECT * FROM leftover")
		assert.ErrorContains(t, err, "leftover", "the temporary table is gone")
		// pgx forgot its own prepared statement with the session.
		var v int32
		require.NoError(t, l.QueryRow(ctx, "SELECT 42").Scan(&v))
		_, err = l.Conn().Prepare(ctx, "pgx_named", "SELECT 43")
		return err
	}))
}

// TestPoolBatchThatBeginsATransaction: a pool batch that begins a
// transaction (pgx.Batch.BeginTx) holds its lease until that transaction
// ends, as pgxpool's does, not merely until the batch is closed.
func TestPoolBatchThatBeginsATransaction(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1})
	ctx := as(t, e.alice)
	e.createItems(t)

	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{})
	b.Queue("INSERT INTO items VALUES (7, 'in a batch transaction')")
	br := e.pool.SendBatch(ctx, b)
	tx := br.Tx()
	require.NotNil(t, tx)
	require.NoError(t, br.Close())
	assert.Equal(t, 1, e.busy(), "the transaction still holds the lease")
	_, err := tx.Exec(ctx, "INSERT INTO items VALUES (8, 'after the batch')")
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	assert.Zero(t, e.busy(), "Commit released the lease")
	assert.Equal(t, int64(2), e.countItems(t))

	// Without a transaction, Close releases.
	br = e.pool.SendBatch(ctx, &pgx.Batch{QueuedQueries: []*pgx.QueuedQuery{{SQL: "SELECT 1"}}})
	assert.Nil(t, br.Tx())
	require.NoError(t, br.Close())
	assert.Zero(t, e.busy())
}

// TestPoolFailsClosedAfterALeaseDeallocatesTheResetsStatements: a careless
// caller finds idpool's own reset statements in pg_prepared_statements and
// has pgx deallocate them through Lease.Conn. The next lease's first request
// fails and never runs (the server ends the session first), and the pool
// then serves a new connection that works.
func TestPoolFailsClosedAfterALeaseDeallocatesTheResetsStatements(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1})
	ctx := as(t, e.alice)
	// Each release here must defer its reset, which a Read in flight
	// (pgconn's background reader, on a loaded machine) would turn into
	// the full one: see EndStrayRead.
	l, err := e.pool.Acquire(ctx)
	require.NoError(t, err)
	_, err = l.Exec(ctx, "CREATE TABLE witness (x int)")
	require.NoError(t, err)
	postgres.EndStrayRead(t, ctx, l.Conn())
	l.Release()

	l, err = e.pool.Acquire(ctx)
	require.NoError(t, err)
	pid := backendPID(t, ctx, l) // its reset ran first and prepared its statements
	rows, err := l.Query(ctx, "SELECT name FROM pg_prepared_statements WHERE name LIKE 'idpool%'")
	require.NoError(t, err)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.NotEmpty(t, names, "the reset prepares statements of its own")
	for _, name := range names {
		require.NoError(t, l.Conn().Deallocate(ctx, name))
	}
	postgres.EndStrayRead(t, ctx, l.Conn())
	l.Release()

	// Without arguments pgx sends the INSERT whole, in the simple
	// protocol, right behind the reset: only a session the server ended
	// first keeps it from running. (pgx reports this path's read error as
	// "conn closed"; TestDeferredResetFailsClosedWhenItsStatementIsGone
	// checks the error itself.)
	_, err = e.pool.Exec(ctx, "INSERT INTO witness VALUES (1)")
	require.Error(t, err)

	l, err = e.pool.Acquire(ctx)
	require.NoError(t, err)
	defer l.Release()
	assert.NotEqual(t, pid, backendPID(t, ctx, l), "the connection whose reset failed was reused")
	assert.Zero(t, scalar[int64](t, ctx, l, "SELECT count(*) FROM witness"), "the request behind the failed reset ran")
}
