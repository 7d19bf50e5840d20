package e2e

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// pgSizeWatch samples a pool's Stats until stopped and keeps the largest
// open-plus-dialing count seen: a leaked slot or an overshoot shows there.
type pgSizeWatch struct {
	max  atomic.Int64
	stop chan struct{}
	done chan struct{}
}

func pgWatchSize(db *manager.DB) *pgSizeWatch {
	w := &pgSizeWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			st := db.Manager.Stats().Total
			if n := int64(st.Open + st.Dialing); n > w.max.Load() {
				w.max.Store(n)
			}
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

// Stop ends the sampling and returns the largest size seen.
func (w *pgSizeWatch) Stop() int {
	close(w.stop)
	<-w.done
	return int(w.max.Load())
}

// pgUseAll checks out n connections at once (so every idle one is handed
// out), runs a query on each and hands them back. It returns the pids of the
// queries that worked and how many failed.
func pgUseAll(t *testing.T, ctx context.Context, db *manager.DB, n int) (pids []int, failed int) {
	t.Helper()
	for _, c := range pgCheckout(t, ctx, db, n) {
		pid, err := pgPID(ctx, c)
		if err != nil {
			failed++
		} else {
			pids = append(pids, pid)
		}
		if err := c.Close(); err != nil {
			// A call whose reset the server ended reports
			// driver.ErrBadConn (the call did not run), on which
			// database/sql closes the pinned *sql.Conn itself.
			require.ErrorIs(t, err, sql.ErrConnDone)
			require.Positive(t, failed)
		}
	}
	return pids, failed
}

// pgOutageCalls runs n concurrent calls with a short deadline against a pool
// whose server is down. Each must fail, and return: an acquire during an
// outage must not hang past its deadline.
func pgOutageCalls(t *testing.T, ctx context.Context, p *pgPool, n int, deadline time.Duration) []error {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			callCtx, cancel := context.WithTimeout(ctx, deadline)
			defer cancel()
			_, errs[i] = pgPID(callCtx, p.db)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(deadline + 15*time.Second):
		t.Fatalf("calls during the outage hang past their %s deadline", deadline)
	}
	for i, err := range errs {
		require.Error(t, err, "call %d during the outage", i)
	}
	return errs
}

// TestPGServerRestartAndOutage: a restart kills every pooled session; the pool
// recovers without the caller noticing when it health-checks, or with at most
// one failed call per dead session when it does not. While the server is
// down, calls fail by their deadline; once it is back the pools refill
// without having leaked a slot or a session.
func TestPGServerRestartAndOutage(t *testing.T) {
	const size = 4
	srv := pgtest.Start(t)
	ctx := pgCtx(t)
	// No dial blocking period: this test counts what each call sees while the
	// server is down and right after it is back (the blocking period has its
	// own tests in manager/).
	checked := pgSQLLoginPool(t, srv, "restartchk", manager.Config{MaxSize: size, HealthCheckAfter: time.Millisecond, DialBackoff: -1})
	unchecked := pgSQLLoginPool(t, srv, "restartraw", manager.Config{MaxSize: size, HealthCheckAfter: -1, DialBackoff: -1})
	watchChecked, watchUnchecked := pgWatchSize(checked.db), pgWatchSize(unchecked.db)

	oldChecked, failed := pgUseAll(t, ctx, checked.db, size)
	require.Zero(t, failed)
	oldUnchecked, failed := pgUseAll(t, ctx, unchecked.db, size)
	require.Zero(t, failed)

	srv.Restart(t)

	t.Run("restart, health-checked pool", func(t *testing.T) {
		// Concurrent calls right after the restart: none fails.
		var wg sync.WaitGroup
		var errCount atomic.Int32
		for range 2 * size {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 5 {
					if _, err := pgPID(ctx, checked.db); err != nil {
						errCount.Add(1)
						t.Errorf("call after restart: %v", err)
					}
				}
			}()
		}
		wg.Wait()
		require.Zero(t, errCount.Load())
		// Every idle session, dead or not, is handed out again: all work.
		pids, failed := pgUseAll(t, ctx, checked.db, size)
		require.Zero(t, failed)
		for _, pid := range pids {
			assert.NotContains(t, oldChecked, pid)
		}
		st := checked.stats()
		assert.EqualValues(t, size, st.Closes["failed_health_check"], "each dead session fails its check once")
		assert.EqualValues(t, 2*size, st.Opens, "each dead session replaced once")
		assert.Equal(t, size, st.Open)
	})

	t.Run("restart, unchecked pool", func(t *testing.T) {
		// All idle sessions are dead; handed out unchecked, each fails the
		// one call made on it and is closed on release.
		pids, failed := pgUseAll(t, ctx, unchecked.db, size)
		assert.Empty(t, pids)
		assert.Equal(t, size, failed)
		st := unchecked.stats()
		assert.EqualValues(t, size, st.Closes["broken"])
		// The next round gets new sessions that all work.
		pids, failed = pgUseAll(t, ctx, unchecked.db, size)
		require.Zero(t, failed)
		for _, pid := range pids {
			assert.NotContains(t, oldUnchecked, pid)
		}
		st = unchecked.stats()
		assert.EqualValues(t, 2*size, st.Opens)
		assert.Equal(t, size, st.Open)
	})

	// A third pool, closed while the server is down.
	closing := pgSQLLoginPoolNoCleanup(t, srv, "restartclose", manager.Config{MaxSize: 2})
	_, failed = pgUseAll(t, ctx, closing.db, 2)
	require.Zero(t, failed)

	srv.Stop(t)

	t.Run("close during the outage", func(t *testing.T) {
		done := make(chan error, 1)
		go func() { done <- closing.db.Close() }()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(20 * time.Second):
			t.Fatal("Close hangs on sessions whose server is gone")
		}
		require.NoError(t, closing.db.Manager.Close(ctx), "Close is idempotent")
		_, err := closing.db.Manager.Acquire(ctx, tokens.SQLLogin())
		require.ErrorIs(t, err, manager.ErrClosed)
	})

	t.Run("outage", func(t *testing.T) {
		for _, p := range []*pgPool{checked, unchecked} {
			errs := pgOutageCalls(t, ctx, p, 2*size, time.Second)
			dialErrs := 0
			for _, err := range errs {
				var de *manager.DialError
				if errors.As(err, &de) {
					dialErrs++
				}
			}
			t.Logf("%s: %d of %d calls failed with a dial error; first: %v", p.role, dialErrs, len(errs), errs[0])
			if p == checked {
				// Its dead sessions fail their check; the dials that
				// replace them are refused.
				assert.Positive(t, dialErrs)
			}
			// A lease asked for directly fails with the dial's cause.
			acqCtx, cancel := context.WithTimeout(ctx, time.Second)
			l, err := p.db.Manager.Acquire(acqCtx, tokens.SQLLogin())
			cancel()
			if err == nil {
				// The unchecked pool may still hand out a session killed
				// by the stop; using it fails.
				_, qerr := pgLeaseScalar(ctx, l, "SELECT 1")
				assert.Error(t, qerr)
				l.Release(qerr)
			} else {
				assert.True(t, errors.As(err, new(*manager.DialError)) || errors.Is(err, context.DeadlineExceeded), "acquire error: %v", err)
			}
			pgEventually(t, 10*time.Second, func() bool {
				st := p.stats()
				return st.Busy == 0 && st.Waiters == 0 && st.Dialing == 0
			}, "%s: the pool does not settle during the outage: %+v", p.role, func() any { return p.stats() })
			assert.LessOrEqual(t, p.stats().Open, size)
		}
	})

	srv.StartAgain(t)

	t.Run("recovery", func(t *testing.T) {
		for _, p := range []*pgPool{checked, unchecked} {
			// Until every session the pool holds has worked in one round
			// of size calls at once. Each dead session fails at most one
			// call, so two rounds must do.
			failedTotal := 0
			for round := 0; ; round++ {
				require.Less(t, round, 3, "%s has not recovered", p.role)
				pids, failed := pgUseAll(t, ctx, p.db, size)
				failedTotal += failed
				if failed == 0 {
					assert.Len(t, pids, size)
					break
				}
			}
			if p == checked {
				assert.Zero(t, failedTotal, "the health check hides dead sessions")
			}
			assert.LessOrEqual(t, failedTotal, size, "at most one failure per session the outage killed")
			st := p.stats()
			assert.Equal(t, size, st.Open)
			assert.Equal(t, size, st.Idle)
			assert.Zero(t, st.Busy+st.Dialing+st.Waiters)
			pgEventually(t, 10*time.Second, func() bool { return srv.Backends(t, p.role) == size },
				"%s: the server holds %d sessions, the pool %d", p.role, func() any { return srv.Backends(t, p.role) }, size)
		}
	})

	t.Run("frozen server: acquires end by their deadline while dials hang", func(t *testing.T) {
		// A pool of its own with free slots, so each call must dial. With
		// the postmaster stopped (SIGSTOP) the kernel still accepts the TCP
		// connection but no login ever answers: the dials hang (for up to
		// DialTimeout), and the callers must get their errors at their own
		// deadline all the same.
		frozen := pgSQLLoginPool(t, srv, "frozen", manager.Config{MaxSize: 2, DialTimeout: 45 * time.Second})
		thaw := pgFreezePostmaster(t, srv)
		errs := pgOutageCalls(t, ctx, frozen, 3, 500*time.Millisecond)
		for _, err := range errs {
			assert.ErrorIs(t, err, context.DeadlineExceeded)
		}
		st := frozen.stats()
		assert.Equal(t, 2, st.Dialing, "both slots dialing, no more")
		assert.Zero(t, st.Open)
		assert.EqualValues(t, 3, st.Timeouts)
		thaw()

		// The dials finish once the server wakes; their connections land
		// idle in the pool, and both slots serve calls again.
		pgEventually(t, 30*time.Second, func() bool {
			st := frozen.stats()
			return st.Dialing == 0 && st.Open == 2 && st.Idle == 2
		}, "the hung dials did not land in the pool: %+v", func() any { return frozen.stats() })
		conns, _ := pgHoldConns(t, ctx, frozen.db, 2)
		pgCloseAll(t, conns)
		assert.EqualValues(t, 2, frozen.stats().Opens)
	})

	assert.LessOrEqual(t, watchChecked.Stop(), size, "open+dialing over MaxSize")
	assert.LessOrEqual(t, watchUnchecked.Stop(), size, "open+dialing over MaxSize")
}

// pgFreezePostmaster stops srv's postmaster (SIGSTOP) so that it accepts no
// new session, leaving the sessions it has alone. The returned func (also
// run at cleanup) lets it go on.
func pgFreezePostmaster(t *testing.T, srv *pgtest.Server) (thaw func()) {
	t.Helper()
	// The checkpointer is one of the postmaster's children, and lives as
	// long as it does.
	child := int(srv.QueryInt(t, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'"))
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", child))
	require.NoError(t, err)
	var ppid int
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "PPid:"); ok {
			ppid, err = strconv.Atoi(strings.TrimSpace(v))
			require.NoError(t, err)
		}
	}
	require.Positive(t, ppid)
	require.NoError(t, syscall.Kill(ppid, syscall.SIGSTOP))
	var once sync.Once
	thaw = func() {
		once.Do(func() { assert.NoError(t, syscall.Kill(ppid, syscall.SIGCONT)) })
	}
	t.Cleanup(thaw)
	return thaw
}
