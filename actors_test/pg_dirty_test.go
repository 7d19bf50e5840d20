package e2e

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// pgTable creates a table the pool's role may write, named after the role.
func pgTable(t *testing.T, p *pgPool) string {
	t.Helper()
	table := p.role + "_items"
	p.srv.Exec(t, "CREATE TABLE "+table+" (id bigint PRIMARY KEY)")
	p.srv.Exec(t, "GRANT ALL ON "+table+" TO "+p.role)
	return table
}

// pgLeaseExec runs a statement with int64 arguments on a lease's driver
// connection.
func pgLeaseExec(ctx context.Context, l *manager.Lease, query string, args ...int64) error {
	nv := make([]driver.NamedValue, len(args))
	for i, a := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	_, err := l.Conn().ExecContext(ctx, query, nv)
	return err
}

// pgLeaseScalar runs a query answering one value on a lease's connection.
func pgLeaseScalar(ctx context.Context, l *manager.Lease, query string) (driver.Value, error) {
	rows, err := l.Conn().QueryContext(ctx, query, nil)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	dest := make([]driver.Value, 1)
	if err := rows.Next(dest); err != nil {
		return nil, err
	}
	return dest[0], nil
}

func pgCount(t *testing.T, ctx context.Context, q pgQueryer, table string) int {
	t.Helper()
	var n int
	require.NoError(t, q.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n))
	return n
}

// TestPGDirtyCheckoutNeverLeaks: with one physical connection, work a caller
// left uncommitted is never seen, nor committed, by the next caller, on every
// way of walking away from a transaction; committed work survives release.
func TestPGDirtyCheckoutNeverLeaks(t *testing.T) {
	srv := pgtest.Shared(t)
	p := pgSQLLoginPool(t, srv, "dirty", manager.Config{MaxSize: 1, HealthCheckAfter: -1})
	table := pgTable(t, p)
	ctx := pgCtx(t)
	db, m := p.db, p.db.Manager
	insert := "INSERT INTO " + table + " VALUES ($1)"

	// A begins a transaction through its lease, inserts, and releases
	// without committing; the pool rolls back and keeps the connection.
	a, err := m.Acquire(ctx, tokens.SQLLogin())
	require.NoError(t, err)
	pidA := pgLeasePID(t, ctx, a)
	_, err = a.Conn().BeginTx(ctx, driver.TxOptions{})
	require.NoError(t, err)
	require.NoError(t, pgLeaseExec(ctx, a, insert, 1))
	a.Release(nil)

	// B gets the same session (MaxSize 1, no new open), outside any
	// transaction, and sees nothing of A's row.
	b, err := m.Acquire(ctx, tokens.SQLLogin())
	require.NoError(t, err)
	assert.Equal(t, pidA, pgLeasePID(t, ctx, b), "MaxSize 1: B must reuse A's physical connection")
	noXID, err := pgLeaseScalar(ctx, b, "SELECT txid_current_if_assigned() IS NULL")
	require.NoError(t, err)
	assert.Equal(t, true, noXID, "B's session is still inside A's transaction")
	n, err := pgLeaseScalar(ctx, b, "SELECT count(*) FROM "+table)
	require.NoError(t, err)
	assert.EqualValues(t, 0, n, "B sees A's uncommitted row")
	b.Release(nil)
	assert.EqualValues(t, 0, srv.QueryInt(t, "SELECT count(*) FROM "+table), "A's row was committed")
	assert.EqualValues(t, 1, p.stats().Opens)

	// Committed work through the facade survives release and B sees it on
	// the same session.
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, insert, 2)
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	assert.Equal(t, 1, pgCount(t, ctx, db, table))
	assert.Equal(t, pidA, pgMustPID(t, ctx, db), "a committed transaction keeps its connection")
	assert.EqualValues(t, 1, p.stats().Opens)

	// The facade's way of walking away: the transaction's ctx ends.
	txCtx, cancel := context.WithCancel(ctx)
	tx, err = db.BeginTx(txCtx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(txCtx, insert, 3)
	require.NoError(t, err)
	cancel()
	assert.Equal(t, 1, pgCount(t, ctx, db, table), "a transaction whose ctx ended leaked its row")
	assert.ErrorIs(t, tx.Commit(), sql.ErrTxDone)
	assert.Equal(t, 1, pgCount(t, ctx, db, table))

	// A transaction the pool cannot see (a raw BEGIN on a *sql.Conn): the
	// session reset finds it open, so the connection is closed, not reused.
	c, err := db.Conn(ctx)
	require.NoError(t, err)
	pidRaw := pgMustPID(t, ctx, c)
	_, err = c.ExecContext(ctx, "BEGIN")
	require.NoError(t, err)
	_, err = c.ExecContext(ctx, insert, 4)
	require.NoError(t, err)
	broken := p.stats().Closes["broken"]
	require.NoError(t, c.Close())
	assert.Equal(t, 1, pgCount(t, ctx, db, table), "an untracked open transaction leaked its row")
	assert.NotEqual(t, pidRaw, pgMustPID(t, ctx, db), "a session left in a transaction was reused")
	assert.Equal(t, broken+1, p.stats().Closes["broken"])
	pgEventually(t, 10*time.Second, func() bool { return !pgAlive(t, srv, pidRaw) }, "the dirty session %d still runs", pidRaw)

	assert.EqualValues(t, 1, srv.QueryInt(t, "SELECT count(*) FROM "+table))
	assert.LessOrEqual(t, p.stats().Open, 1)
}

// pgLeasePID is pgPID on a lease's driver connection.
func pgLeasePID(t *testing.T, ctx context.Context, l *manager.Lease) int {
	t.Helper()
	v, err := pgLeaseScalar(ctx, l, "SELECT pg_backend_pid()")
	require.NoError(t, err)
	pid, ok := v.(int64)
	require.True(t, ok, "pg_backend_pid() as %T", v)
	return int(pid)
}

// pgRandomRuns is how many random sequences each of the 32 goroutines runs.
// About a third of the sequences walk away from a transaction, which costs a
// new PostgreSQL login (a forked backend and a SCRAM exchange): 250 runs took
// 57-65 s on a loaded 2-core machine, past the test's ctx, and failed with
// acquire timeouts. 64 runs (2048 sequences, ~680 new logins) still mix every
// path and outcome on a pool four times oversubscribed.
const pgRandomRuns = 64

// pgRandomTimeout bounds TestPGDirtyCheckoutRandomized: a budget for a hang,
// far above what the work takes under load, so that a slow machine never
// fails the test (pgTimeout is sized for tests that do a few round trips).
const pgRandomTimeout = 5 * time.Minute

// TestPGDirtyCheckoutRandomized: 32 goroutines run random sequences of
// begin, insert and commit, roll back or walk away, through the lease API,
// the facade's *sql.Tx and a *sql.Conn with raw BEGIN/COMMIT, on a pool of 8.
// Every transaction must start on a session outside any transaction, and at
// the end the table must hold exactly the committed rows.
func TestPGDirtyCheckoutRandomized(t *testing.T) {
	const goroutines, maxSize = 32, 8
	srv := pgtest.Shared(t)
	p := pgSQLLoginPool(t, srv, "dirtyrand", manager.Config{MaxSize: maxSize})
	table := pgTable(t, p)
	ctx, cancel := context.WithTimeout(t.Context(), pgRandomTimeout)
	defer cancel()
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	start := time.Now()

	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		committed []int64
		failures  []error
		outcomes  [3][3]int // [path][outcome]
	)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(g)))
			var mine []int64
			var counts [3][3]int
			for s := range pgRandomRuns {
				path, outcome := r.IntN(3), r.IntN(3)
				ids := make([]int64, 1+r.IntN(2))
				for k := range ids {
					ids[k] = int64(g)*1_000_000 + int64(s)*4 + int64(k)
				}
				ok, err := pgRandomSequence(ctx, p, table, path, outcome, ids)
				if err != nil {
					mu.Lock()
					failures = append(failures, fmt.Errorf("goroutine %d sequence %d (path %d, outcome %d): %w", g, s, path, outcome, err))
					mu.Unlock()
					return
				}
				counts[path][outcome]++
				if ok {
					mine = append(mine, ids...)
				}
			}
			mu.Lock()
			committed = append(committed, mine...)
			for i := range counts {
				for j := range counts[i] {
					outcomes[i][j] += counts[i][j]
				}
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	require.Empty(t, failures)

	rows, err := p.db.QueryContext(ctx, "SELECT id FROM "+table+" ORDER BY id")
	require.NoError(t, err)
	var got []int64
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		got = append(got, id)
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	slices.Sort(committed)
	require.Equal(t, committed, got, "the table must hold exactly the committed rows")

	// A *sql.Tx walked away from by cancelling its ctx is rolled back and
	// its connection released by database/sql's own goroutine (awaitDone),
	// which may still be at it when the last sequence returns: wait for the
	// pool to hear every release, then check the counts.
	var st manager.PoolStats
	eventually(t, pgTimeout, func() bool { st = p.stats(); return st.Busy == 0 },
		"a lease is still out after every sequence ended")
	t.Logf("%d sequences in %s", goroutines*pgRandomRuns, time.Since(start))
	t.Logf("sequences [path lease/tx/conn][commit/rollback/abandon] %v; rows %d; opens %d, hits %d, misses %d, closes %v",
		outcomes, len(got), st.Opens, st.Hits, st.Misses, st.Closes)
	assert.LessOrEqual(t, st.Open, maxSize)
	assert.Zero(t, st.Busy)
	assert.Zero(t, st.Waiters)
	assert.EqualValues(t, goroutines*pgRandomRuns+1, st.Acquires, "one acquire per sequence, plus the final read")
}

// pgRandomSequence runs one transaction on path (0 lease, 1 *sql.Tx, 2
// *sql.Conn with raw BEGIN) inserting ids, ending with outcome (0 commit, 1
// roll back, 2 walk away). It reports whether the rows were committed.
func pgRandomSequence(ctx context.Context, p *pgPool, table string, path, outcome int, ids []int64) (bool, error) {
	insert := "INSERT INTO " + table + " VALUES ($1)"
	const clean = "SELECT txid_current_if_assigned() IS NULL"
	switch path {
	case 0:
		l, err := p.db.Manager.Acquire(ctx, tokens.SQLLogin())
		if err != nil {
			return false, err
		}
		tx, err := l.Conn().BeginTx(ctx, driver.TxOptions{})
		if err != nil {
			l.Release(err)
			return false, err
		}
		v, err := pgLeaseScalar(ctx, l, clean)
		if err == nil && v != true {
			err = errors.New("a new transaction started inside an earlier one")
		}
		for _, id := range ids {
			if err == nil {
				err = pgLeaseExec(ctx, l, insert, id)
			}
		}
		if err == nil {
			switch outcome {
			case 0:
				err = tx.Commit()
			case 1:
				err = tx.Rollback()
			}
		}
		l.Release(err)
		return outcome == 0 && err == nil, err
	case 1:
		txCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		tx, err := p.db.BeginTx(txCtx, nil)
		if err != nil {
			return false, err
		}
		var isClean bool
		err = tx.QueryRowContext(txCtx, clean).Scan(&isClean)
		if err == nil && !isClean {
			err = errors.New("a new transaction started inside an earlier one")
		}
		for _, id := range ids {
			if err == nil {
				_, err = tx.ExecContext(txCtx, insert, id)
			}
		}
		if err != nil {
			_ = tx.Rollback()
			return false, err
		}
		switch outcome {
		case 0:
			return true, tx.Commit()
		case 1:
			return false, tx.Rollback()
		}
		cancel() // database/sql rolls back when the transaction's ctx ends
		return false, nil
	default:
		c, err := p.db.Conn(ctx)
		if err != nil {
			return false, err
		}
		defer c.Close()
		if _, err := c.ExecContext(ctx, "BEGIN"); err != nil {
			return false, err
		}
		var isClean bool
		err = c.QueryRowContext(ctx, clean).Scan(&isClean)
		if err == nil && !isClean {
			err = errors.New("a new transaction started inside an earlier one")
		}
		for _, id := range ids {
			if err == nil {
				_, err = c.ExecContext(ctx, insert, id)
			}
		}
		if err != nil {
			return false, err
		}
		switch outcome {
		case 0:
			_, err = c.ExecContext(ctx, "COMMIT")
			return err == nil, err
		case 1:
			_, err = c.ExecContext(ctx, "ROLLBACK")
			return false, err
		}
		return false, nil // Close with the transaction open
	}
}
