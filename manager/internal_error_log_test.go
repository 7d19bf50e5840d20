package manager

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/internal/syncbuf"
)

// trapClock is the system clock until armed; then its next Now panics with
// secret, as a test's or a simulation's clock might with anything it holds.
type trapClock struct {
	armed  atomic.Bool
	secret string
}

func (c *trapClock) Now() time.Time {
	if c.armed.CompareAndSwap(true, false) {
		panic(c.secret)
	}
	return time.Now()
}

func (c *trapClock) AfterFunc(d time.Duration, f func()) actors.Timer { return time.AfterFunc(d, f) }

// TestAPanickingClockLosesNoMessageAndLogsNoSecret: Config.Clock is user
// code, and the pool and manager actors read it as they take each message.
// A Now that panicked there cut the message's step short: an Acquire so
// lost waited for good, its ctx's end included (the Cancel it then sent
// found nothing to withdraw). The system clock now stands in, so the
// acquire is served; the panic is logged, described and never printed (the
// value may hold a password or a token), and Close finishes.
func TestAPanickingClockLosesNoMessageAndLogsNoSecret(t *testing.T) {
	const secret = "Password=hunter2-not-for-logs"
	for _, tc := range []struct {
		name string
		// poolFirst makes the pool exist before the clock is armed, so
		// that the next Acquire goes to the pool actor over its route;
		// otherwise the manager actor reads the clock first.
		poolFirst bool
	}{{"pool actor", true}, {"manager actor", false}} {
		t.Run(tc.name, func(t *testing.T) {
			var out syncbuf.Buffer
			clock := &trapClock{secret: secret}
			m, _ := newManager(t, Config{MaxSize: 1, Clock: clock, HealthCheckAfter: -1,
				Logger: slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			id := identity("a")
			if tc.poolFirst {
				acquire(t, m, id).Release(nil)
				// The Release may still wait in the pool's mailbox (behind
				// the DialDone whose goroutine runs it): a Stats query
				// queues behind it. Armed before it is taken, the clock
				// would panic on the Release instead.
				require.Equal(t, 1, m.Stats().Total.Idle)
			}
			clock.armed.Store(true)
			l := acquire(t, m, id)
			l.Release(nil)
			assert.False(t, clock.armed.Load(), "the clock was not read")
			logged := out.String()
			assert.Contains(t, logged, "idpool: Config.Clock panicked; the system clock stands in")
			assert.NotContains(t, logged, "hunter2", "the panic value was printed")
			assert.Contains(t, logged, "a value of type string (not shown")
			assert.NotContains(t, logged, "internal error", "the message's step was cut short")
			closeCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
			defer stop()
			require.NoError(t, m.Close(closeCtx))
		})
	}
}

// A Release read with a clock that panics still hands its connection back
// (a review found it lost: the identity's one slot never came back, and a
// Close with a ctx that never ends never returned).
func TestAReleaseReadWithAPanickingClockHandsTheConnectionBack(t *testing.T) {
	clock := &trapClock{secret: "not-for-logs"}
	m, _ := newManager(t, Config{MaxSize: 1, Clock: clock, HealthCheckAfter: -1})
	l := acquire(t, m, sqlLogin)
	require.Equal(t, 1, m.Stats().Total.Busy) // nothing else queued at the pool
	clock.armed.Store(true)
	l.Release(nil)
	assert.Zero(t, m.Stats().Total.Busy, "the released connection is still leased")
	acquire(t, m, sqlLogin).Release(nil) // the one slot came back
}

// A Cancel lost to a panic in the pool actor (here its Config.Clock, read
// as the actor takes the message) still withdraws the acquire: its caller,
// whose ctx has ended, waits for the Cancel's one reply, and would
// otherwise wait until a connection came free for it, past its ctx, for
// good if none ever does.
func TestACancelLostToAPanicStillWithdrawsTheAcquire(t *testing.T) {
	clock := &trapClock{secret: "not-for-logs"}
	m, _ := newManager(t, Config{MaxSize: 1, Clock: clock, HealthCheckAfter: -1})
	id := sqlLogin            // no token: no timer of its own to read the clock
	held := acquire(t, m, id) // the pool's one connection
	defer held.Release(nil)
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() {
		l, err := m.Acquire(ctx, id)
		if err == nil {
			l.Release(nil)
		}
		got <- err
	}()
	require.Eventually(t, func() bool { return m.Stats().Total.Waiters == 1 }, 10*time.Second, time.Millisecond)
	clock.armed.Store(true) // the pool's next message is the Cancel
	cancel()
	select {
	case err := <-got:
		var te *TimeoutError
		require.ErrorAs(t, err, &te)
		assert.True(t, te.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("the Acquire still waits 10 s after its ctx ended: its Cancel was lost")
	}
	assert.Zero(t, m.Stats().Total.Waiters, "the acquire is still queued")
}

// stopTrapClock is the system clock, but the Stop of its timers panics:
// Timer is part of Config.Clock, user code as much as Now and AfterFunc.
type stopTrapClock struct{}

func (stopTrapClock) Now() time.Time { return time.Now() }
func (stopTrapClock) AfterFunc(d time.Duration, f func()) actors.Timer {
	return stopTrapTimer{time.AfterFunc(d, f)}
}

type stopTrapTimer struct{ t *time.Timer }

func (t stopTrapTimer) Stop() bool {
	t.t.Stop()
	panic("Password=hunter2-not-for-logs")
}

// A Config.Clock whose Timer.Stop panics loses no step either: the pool
// stops its timer as it sets the next, inside its Receive, where a panic
// cut the step short (the effects after it were lost, and the next timer
// never set, so the pool's timeouts never came).
func TestAPanickingTimerStopLosesNoStep(t *testing.T) {
	var out syncbuf.Buffer
	m, _ := newManager(t, Config{MaxSize: 2, Clock: stopTrapClock{}, HealthCheckAfter: -1, IdleTimeout: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	a := acquire(t, m, sqlLogin)
	b := acquire(t, m, sqlLogin)
	a.Release(nil)
	// b's release comes once a's has been stepped: the pool then has a
	// timer for a's idle deadline, which b's release stops and replaces
	// (or, if it has fired already, stops all the same). Release only
	// sends: a Stats query queues behind it at the pool. Waiting to see a
	// idle instead missed it when its 50 ms passed between two polls.
	m.Stats()
	b.Release(nil)
	require.Eventually(t, func() bool { return m.Stats().Total.Open == 0 }, 5*time.Second, time.Millisecond,
		"the idle connections were never closed: the pool's timer was lost")
	logged := out.String()
	assert.NotContains(t, logged, "internal error", "a step was cut short")
	assert.Contains(t, logged, "method=Timer.Stop")
	assert.NotContains(t, logged, "hunter2", "the panic value was printed")
}
