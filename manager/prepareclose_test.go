package manager

import (
	"context"
	"database/sql/driver"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCloseFailsAnAcquireWaitingOnItsPrepareConnHook: Close fails the
// acquires still waiting with ErrClosed, and one whose PrepareConn hook
// hangs (ignoring its ctx) is still waiting: its lease is not the
// caller's yet. It kept waiting for the hook past Close, for as long as
// its ctx allowed (for ever with AcquireTimeout off and a ctx that never
// ends), and Close with such a ctx waited for it as for a lease out: both
// calls hung together until the hook returned. The Acquire now fails with
// ErrClosed as Close begins, the hook's lease is left to the hook (closed
// when it returns, as after an Acquire that gave up), and Close, with or
// without a deadline, returns within its bound.
func TestCloseFailsAnAcquireWaitingOnItsPrepareConnHook(t *testing.T) {
	for _, withDeadline := range []bool{false, true} {
		name := "Close(Background)"
		if withDeadline {
			name = "Close(ctx with deadline)"
		}
		t.Run(name, func(t *testing.T) {
			g := newGate()
			defer g.open()
			m, db := newManagerNoCleanup(t, Config{HealthCheckAfter: -1, AcquireTimeout: -1,
				Hooks: Hooks{PrepareConn: func(context.Context, driver.Conn) (bool, error) {
					g.wait() // ignores its ctx
					return true, nil
				}}})
			acquired := make(chan error, 1)
			go func() {
				l, err := m.Acquire(context.Background(), sqlLogin)
				if l != nil {
					l.Release(nil)
				}
				acquired <- err
			}()
			<-g.entered
			closeCtx, cancel := context.Background(), context.CancelFunc(func() {})
			bound := CloseStuckGrace + closeSlack
			if withDeadline {
				closeCtx, cancel = context.WithTimeout(context.Background(), hostileDeadline)
				bound = hostileDeadline + CloseGrace + closeSlack
			}
			defer cancel()
			closed := make(chan error, 1)
			go func() { closed <- m.Close(closeCtx) }()
			select {
			case err := <-acquired:
				require.ErrorIs(t, err, ErrClosed)
			case <-time.After(bound):
				g.open()
				<-acquired
				<-closed
				t.Fatal("the Acquire waited for its PrepareConn hook past Close")
			}
			var err error
			select {
			case err = <-closed:
			case <-time.After(bound):
				g.open()
				<-closed
				t.Fatal("Close waited for a lease only the hook held")
			}
			var ce *CloseError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, 1, db.OpenNow(), "not closed under the running hook")
			g.open()
			eventually(t, func() bool { return db.OpenNow() == 0 }, "closed once the hook returns")
			s := m.Stats().Total
			assert.Zero(t, s.Busy+s.Open+s.Waiters+s.ClosingConns, "%+v", s)
			assert.Zero(t, m.abandonedPrepares.Load())
		})
	}
}
