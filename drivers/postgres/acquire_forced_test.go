package postgres_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/manager"
)

// pauseAtAcquired is a slog handler that, once armed, runs pause on the
// Acquire goroutine when the Manager logs "idpool: acquired" (at debug
// level, after the grant and before Acquire returns the lease): the one
// place a caller's code runs between the grant and what Pool.Acquire does
// with the connection. Every other record is dropped at once.
type pauseAtAcquired struct {
	armed atomic.Bool
	pause func()
}

func (h *pauseAtAcquired) Enabled(context.Context, slog.Level) bool { return true }
func (h *pauseAtAcquired) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *pauseAtAcquired) WithGroup(string) slog.Handler            { return h }
func (h *pauseAtAcquired) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "idpool: acquired" && h.armed.CompareAndSwap(true, false) {
		h.pause()
	}
	return nil
}

// TestPoolAcquireCheckIsOrderedWithAForcedClose: a forced Manager.Close
// that closes a lease's connection just after the pool granted it, before
// Pool.Acquire has looked at the pgx connection (whether it is open, idle,
// and out of any transaction). That look used to be made outside the lease
// guard, so pgx's Close, on the pool's closing goroutine, ran while
// Acquire's goroutine read the same pgx connection: a data race in pgx
// (the race detector reports it). The look now runs inside the guard, which
// a forced Close shuts first: Acquire fails with ErrLeaseForceClosed and
// never touches the connection being closed.
func TestPoolAcquireCheckIsOrderedWithAForcedClose(t *testing.T) {
	e := newPgxEnvNoPool(t)
	closing := make(chan struct{}, 1)
	h := &pauseAtAcquired{}
	closed := make(chan error, 1)
	var pool *postgres.Pool
	h.pause = func() {
		// The forced Close: its ctx has ended already.
		go func() {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			closed <- pool.Manager().Close(ctx)
		}()
		// The pool's closing goroutine is about to close the pgx
		// connection; Acquire goes on at the same time.
		<-closing
	}
	cfg := manager.Config{
		MaxSize: 1,
		Logger:  slog.New(h),
		Hooks: manager.Hooks{BeforeClose: func(driver.Conn) {
			select {
			case closing <- struct{}{}:
			default:
			}
		}},
	}
	pool, err := postgres.OpenPool(e.dsn, cfg, postgres.WithUser(roleOf))
	require.NoError(t, err)
	ctx := as(t, e.alice)
	// A connection in the pool first, so that the acquire below is a plain
	// grant of it.
	l, err := pool.Acquire(ctx)
	require.NoError(t, err)
	l.Release()

	h.armed.Store(true)
	l, err = pool.Acquire(ctx)
	if err == nil {
		l.Release()
	}
	require.Error(t, err, "a lease whose connection a forced Close was closing")
	assert.True(t, errors.Is(err, manager.ErrLeaseForceClosed), "got %v", err)
	select {
	case err := <-closed:
		var ce *manager.CloseError
		require.ErrorAs(t, err, &ce)
		// Close reads its figures from the actors for at most CloseGrace
		// more: an actor scheduled later than that (a loaded machine)
		// leaves them out, and Close says so (Unanswered). Stats waits for
		// the actors and counts the forced close either way.
		if !ce.Unanswered {
			assert.Equal(t, 1, ce.Forced, "the lease was closed by force")
		}
		assert.EqualValues(t, 1, pool.Manager().Stats().Total.Closes["forced"], "the lease was closed by force")
	case <-time.After(10 * time.Second):
		t.Fatal("the forced Close never returned")
	}
}
