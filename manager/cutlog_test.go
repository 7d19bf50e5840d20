package manager

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newBlockingHandler is a Config.Logger handler that blocks on the record
// whose message is msg until hold is closed, as a handler writing to a full
// pipe or a stalled log shipper does (see blockingHandler).
func newBlockingHandler(msg string) *blockingHandler {
	return &blockingHandler{msg: msg, entered: make(chan struct{}), hold: make(chan struct{})}
}

// CancelGrace bounds a call stuck past its ctx, and Release stuck on what
// its caller left open, whatever the Logger's handler does: the cut's
// warning is logged after the transport is cut, so a handler that blocks
// on it (a stalled log shipper) holds up only its own record. Logged
// first, it held the cut, and the call, for as long as it blocked.
func TestABlockingLoggerDoesNotHoldUpTheCancelGraceCut(t *testing.T) {
	t.Run("a call past its ctx", func(t *testing.T) {
		h := newBlockingHandler("idpool: a call outlived its ctx by CancelGrace; cutting its connection")
		d, clock := &stuckDialer{}, newGraceClock()
		m := newStuckManager(t, d, clock, testGrace, slog.New(h))
		l, c := leaseOf(t, m)
		ctx, cancel := context.WithCancel(context.Background())
		got := stuckExec(t, ctx, l, c)
		cancel()
		clock.awaitGrace(t)
		timerDone := make(chan struct{})
		go func() { defer close(timerDone); clock.advance(testGrace) }() // the timer's goroutine, which logs
		require.ErrorIs(t, awaitCut(t, got), errTransportCut, "the call returns once cut, while the handler still blocks")
		awaitBlocked(t, h)
		close(h.hold)
		<-timerDone
		l.Release(nil)
	})
	t.Run("a Dialer whose AbortTransport panics", func(t *testing.T) {
		h := newBlockingHandler("idpool: the Dialer panicked in AbortTransport")
		d, clock := &stuckDialer{panics: true}, newGraceClock()
		m := newStuckManager(t, d, clock, testGrace, slog.New(h))
		l, c := leaseOf(t, m)
		ctx, cancel := context.WithCancel(context.Background())
		got := stuckExec(t, ctx, l, c)
		cancel()
		clock.awaitGrace(t)
		timerDone := make(chan struct{})
		go func() { defer close(timerDone); clock.advance(testGrace) }()
		awaitBlocked(t, h) // the cut has run: its panic's line blocks
		c.let()            // the server answers after all: the call ends, its Exit waits for no line
		select {
		case err := <-got:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("the call's end waited for the Logger's handler")
		}
		close(h.hold)
		<-timerDone
		l.Release(nil)
	})
	t.Run("a result set left open at Release", func(t *testing.T) {
		h := newBlockingHandler(leftRows)
		d, clock := &stuckDialer{}, newGraceClock()
		m := newStuckManager(t, d, clock, testGrace, slog.New(h))
		l, conn := leaseOf(t, m)
		_, err := l.Conn().QueryContext(context.Background(), "SELECT n", nil)
		require.NoError(t, err)
		d.stuckRowsClose.Store(true)
		released := make(chan struct{})
		go func() { defer close(released); l.Release(nil) }()
		conn.awaitEntered(t)
		clock.awaitGrace(t)
		timerDone := make(chan struct{})
		go func() { defer close(timerDone); clock.advance(testGrace) }()
		select {
		case <-released:
		case <-time.After(10 * time.Second):
			t.Fatal("Release still stuck 10 s after CancelGrace: the cut waits for the Logger's handler")
		}
		assert.EqualValues(t, 1, d.aborts.Load())
		awaitBlocked(t, h)
		close(h.hold)
		<-timerDone
	})
}

// awaitBlocked waits until h blocks on its record: the line is still
// logged, after the cut.
func awaitBlocked(t *testing.T, h *blockingHandler) {
	t.Helper()
	select {
	case <-h.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the cut's warning was never logged")
	}
}
