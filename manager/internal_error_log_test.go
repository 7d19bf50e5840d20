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

// TestAnInternalErrorLogsNoPanicValue: Config.Clock is user code, and the
// pool and manager actors read it inside Receive, where a panic is caught
// by the actor's last line of defence and logged. The line must describe
// the panic, not print it: the value may hold a password or a token. The
// acquire whose message was lost is answered with ErrInternal (it used to
// wait for good, its ctx's end included), the pool serves on, and Close
// finishes.
func TestAnInternalErrorLogsNoPanicValue(t *testing.T) {
	const secret = "Password=hunter2-not-for-logs"
	for _, tc := range []struct {
		name string
		// poolFirst makes the pool exist before the clock is armed, so
		// that the next Acquire goes to the pool actor over its route;
		// otherwise the manager actor reads the clock first.
		poolFirst bool
		line      string
	}{
		{"pool actor", true, "idpool: internal error in pool actor"},
		{"manager actor", false, "idpool: internal error in manager actor"},
	} {
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
			// The message whose step panicked is answered at once: its
			// caller would otherwise wait past its ctx, since the Cancel
			// it then sends finds nothing to withdraw.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			l, err := m.Acquire(ctx, id)
			if err == nil {
				l.Release(nil)
			}
			require.ErrorIs(t, err, ErrInternal)
			assert.NoError(t, ctx.Err(), "answered by the ctx's end")
			assert.Contains(t, out.String(), tc.line)
			logged := out.String()
			assert.NotContains(t, logged, "hunter2", "the panic value was printed")
			assert.Contains(t, logged, "a value of type string (not shown")
			// The pool still serves.
			acquire(t, m, id).Release(nil)
			closeCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
			defer stop()
			require.NoError(t, m.Close(closeCtx))
		})
	}
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
