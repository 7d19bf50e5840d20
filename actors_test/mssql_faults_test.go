package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// runningSPID waits for exactly one session of login to be running a
// request and returns its SPID.
func runningSPID(t *testing.T, env *mssqlEnv, login string) int {
	t.Helper()
	spid := 0
	eventually(t, 10*time.Second, func() bool {
		for _, s := range env.tds.Sessions() {
			if s.Login == login && s.Running {
				spid = s.SPID
				return true
			}
		}
		return false
	}, "no running session of %s", login)
	return spid
}

// spidOf returns the SPID a call for ctx's identity runs on.
func spidOf(t *testing.T, ctx context.Context, db *manager.DB) int {
	t.Helper()
	var spid int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT @@SPID").Scan(&spid))
	return spid
}

// TestMSSQLKilledSessionMidQuery: the server kills the session while a query
// runs on it. That caller gets an error; the pool closes the connection and
// the next call is served by a new session; later calls keep using it.
func TestMSSQLKilledSessionMidQuery(t *testing.T) {
	env := startMSSQL(t)
	id := env.managedIdentity(t, "kill")
	db := env.openDB(t, manager.Config{MaxSize: 1})
	ctx := tokens.WithIdentity(testCtx(t, 30*time.Second), id.ID)

	spid1 := spidOf(t, ctx, db)
	errc := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(ctx, "WAITFOR DELAY '00:00:20'")
		errc <- err
	}()
	require.Equal(t, spid1, runningSPID(t, env, id.Login))
	require.True(t, env.tds.Kill(spid1))
	var err error
	select {
	case err = <-errc:
	case <-time.After(10 * time.Second):
		t.Fatal("the query on the killed session did not return")
	}
	require.Error(t, err, "the caller whose query hit the kill sees it")

	spid2 := spidOf(t, ctx, db)
	assert.NotEqual(t, spid1, spid2, "a new session replaces the killed one")
	for range 20 {
		assert.Equal(t, spid2, spidOf(t, ctx, db), "later calls reuse the new session")
	}
	st := db.Manager.Stats()
	assert.EqualValues(t, 1, st.Total.Closes["broken"])
	assert.EqualValues(t, 2, st.Total.Opens)
	assert.Equal(t, 2, env.tds.Logins(id.Login))
	assert.Equal(t, 1, st.Total.Open)
	assert.Equal(t, 1, env.sessionCount())
}

// TestMSSQLKilledIdleSessionReplacedOnAcquire: a session killed while idle
// fails the health check on the next acquire and is replaced there; the
// caller never sees it.
func TestMSSQLKilledIdleSessionReplacedOnAcquire(t *testing.T) {
	env := startMSSQL(t)
	id := env.servicePrincipal(t, "killidle")
	// Validate every idle connection before handing it out.
	db := env.openDB(t, manager.Config{MaxSize: 1, HealthCheckAfter: time.Nanosecond})
	ctx := tokens.WithIdentity(testCtx(t, 30*time.Second), id.ID)

	spid1 := spidOf(t, ctx, db)
	require.True(t, env.tds.Kill(spid1))
	spid2 := spidOf(t, ctx, db)
	assert.NotEqual(t, spid1, spid2)
	st := db.Manager.Stats()
	assert.EqualValues(t, 1, st.Total.Closes["failed_health_check"])
	assert.EqualValues(t, 2, st.Total.Opens)
	assert.Equal(t, 2, env.tds.Logins(id.Login))
	assert.Equal(t, spid2, spidOf(t, ctx, db))
}

// cancelMidFlight runs a WAITFOR on db for ctx's identity under a ctx that
// ends after d (or at once, when cancel is true, after the WAITFOR was seen
// running) and reports the SPID it ran on, its error, and whether the
// server saw it running before its ctx ended. A stalled machine can let a
// short deadline pass before the batch is even sent; callers retry then.
func cancelMidFlight(t *testing.T, env *mssqlEnv, ctx context.Context, db *manager.DB, login string, d time.Duration, cancel bool) (spid int, midFlight bool, err error) {
	t.Helper()
	qctx, qcancel := context.WithTimeout(ctx, d)
	defer qcancel()
	deadline, _ := qctx.Deadline()
	errc := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(qctx, "WAITFOR DELAY '00:00:25'")
		errc <- err
	}()
	for spid == 0 {
		select {
		case err = <-errc:
			return 0, false, err
		case <-time.After(2 * time.Millisecond):
		}
		for _, s := range env.tds.Sessions() {
			if s.Login == login && s.Running {
				spid = s.SPID
			}
		}
	}
	midFlight = time.Now().Before(deadline)
	if cancel {
		qcancel()
	}
	select {
	case err = <-errc:
	case <-time.After(30 * time.Second):
		t.Fatal("the cancelled WAITFOR did not return")
	}
	return spid, midFlight, err
}

// TestMSSQLCancelledQueryEvictsConnection: a WAITFOR cut short by its ctx's
// deadline leaves the wire state unknown, so the pool closes that
// connection; the pool's books and the server agree afterwards and later
// queries work, also under concurrent cancellations.
func TestMSSQLCancelledQueryEvictsConnection(t *testing.T) {
	env := startMSSQL(t)
	id := env.managedIdentity(t, "cancel")
	db := env.openDB(t, manager.Config{MaxSize: 4})
	ctx := tokens.WithIdentity(testCtx(t, 90*time.Second), id.ID)

	var spid1 int
	for attempt := 0; ; attempt++ {
		require.Less(t, attempt, 3, "the WAITFOR never ran before its deadline")
		before := db.Manager.Stats().Total.Closes["broken"]
		idle := spidOf(t, ctx, db)
		spid, midFlight, err := cancelMidFlight(t, env, ctx, db, id.Login, time.Second, false)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		if !midFlight {
			continue
		}
		spid1 = spid
		assert.Equal(t, idle, spid, "the idle connection was reused (LIFO)")
		eventually(t, 10*time.Second, func() bool { _, ok := env.sessionBySPID(spid1); return !ok },
			"the cancelled query's session %d is still open at the server", spid1)
		st := db.Manager.Stats()
		assert.Equal(t, before+1, st.Total.Closes["broken"], "the cancelled connection was closed as broken")
		assert.Zero(t, st.Total.Busy)
		break
	}
	spid2 := spidOf(t, ctx, db)
	assert.NotEqual(t, spid1, spid2)
	brokenBefore := db.Manager.Stats().Total.Closes["broken"]

	// Under concurrency: cancellations at random points (before the grant,
	// mid-query) mixed with ordinary queries.
	var wg sync.WaitGroup
	var cancelled, ok, acquireTimeouts atomic.Int64
	var unexpected atomic.Value
	for g := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range 6 {
				if g%2 == 0 {
					d := time.Duration(20+rng.IntN(200)) * time.Millisecond
					qctx, qcancel := context.WithTimeout(ctx, d)
					_, err := db.ExecContext(qctx, "WAITFOR DELAY '00:00:20'")
					qcancel()
					switch {
					case errors.Is(err, manager.ErrAcquireTimeout):
						acquireTimeouts.Add(1)
					case errors.Is(err, context.DeadlineExceeded):
						cancelled.Add(1)
					default:
						unexpected.CompareAndSwap(nil, fmt.Errorf("cancelled WAITFOR returned %v", err))
					}
					continue
				}
				var login string
				if err := db.QueryRowContext(ctx, "SELECT SUSER_SNAME()").Scan(&login); err != nil || login != id.Login {
					unexpected.CompareAndSwap(nil, fmt.Errorf("query: %q, %v", login, err))
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	require.Nil(t, unexpected.Load())
	assert.EqualValues(t, 36, ok.Load())
	assert.EqualValues(t, 36, cancelled.Load()+acquireTimeouts.Load())

	// Consistent afterwards: nothing busy or waiting, and the server holds
	// exactly the sessions the pool holds open, none of them running.
	eventually(t, 10*time.Second, func() bool {
		st := db.Manager.Stats()
		return st.Total.Busy == 0 && st.Total.Waiters == 0 && st.Total.Dialing == 0 &&
			st.Total.Open == st.Total.Idle && env.sessionCount() == st.Total.Open
	}, "pool and server disagree: %+v, %d sessions", db.Manager.Stats().Total, env.sessionCount())
	for _, s := range env.tds.Sessions() {
		assert.False(t, s.Running, "session %d still running a cancelled WAITFOR", s.SPID)
	}
	st := db.Manager.Stats()
	broken := st.Total.Closes["broken"] - brokenBefore
	assert.Positive(t, broken)
	assert.LessOrEqual(t, broken, uint64(cancelled.Load()), "only cancelled calls break connections")
	assert.LessOrEqual(t, st.Total.Open, 4)
	for range 10 {
		spidOf(t, ctx, db)
	}
	t.Logf("cancel: %d cancelled mid-flight or queued, %d acquire timeouts, %d ok, closes %v, opens %d",
		cancelled.Load(), acquireTimeouts.Load(), ok.Load(), st.Total.Closes, st.Total.Opens)
}
