package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/memdb"
)

// panickyHandler is a slog.Handler that panics in the methods named in
// its set: a broken log pipeline, or a handler that panics on an attribute
// it cannot encode. Elsewhere it discards.
type panickyHandler map[string]bool

func (h panickyHandler) check(method string) {
	if h[method] {
		panic(method + " panicked")
	}
}

func (h panickyHandler) Enabled(context.Context, slog.Level) bool {
	h.check("Enabled")
	return true
}

func (h panickyHandler) Handle(context.Context, slog.Record) error {
	h.check("Handle")
	return nil
}

func (h panickyHandler) WithAttrs([]slog.Attr) slog.Handler {
	h.check("WithAttrs")
	return h
}

func (h panickyHandler) WithGroup(string) slog.Handler {
	h.check("WithGroup")
	return h
}

// TestAPanickingLoggerLosesNothing: idpool logs from inside its actors (a
// pool created, a dial failed, an eviction, a close), where a panic of the
// user's handler used to unwind the actor in the middle of a step: the
// acquire it was forwarding was lost and its caller waited for ever, past
// its deadline. Every call must still be answered, within its deadline,
// and Close must finish.
func TestAPanickingLoggerLosesNothing(t *testing.T) {
	for name, h := range map[string]panickyHandler{
		"Handle panics":       {"Handle": true},
		"Enabled panics":      {"Enabled": true},
		"every method panics": {"Enabled": true, "Handle": true, "WithAttrs": true, "WithGroup": true},
	} {
		t.Run(name, func(t *testing.T) {
			m, db := newManager(t, Config{MaxSize: 1, Logger: slog.New(h), DialBackoff: -1, HealthCheckAfter: -1})
			id := identity("a")
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()

			db.FailDials(1, errors.New("login refused"))
			_, err := m.Acquire(ctx, id) // pool created, dial failed: both logged
			require.Error(t, err)
			assert.Contains(t, err.Error(), "login refused")

			l, err := m.Acquire(ctx, id)
			require.NoError(t, err)
			l.Release(driver.ErrBadConn) // closed as broken: logged
			l, err = m.Acquire(ctx, id)
			require.NoError(t, err)
			l.Release(nil)
			require.NoError(t, m.Evict(ctx, id)) // logged twice
			require.NoError(t, m.Reset(ctx))
			require.NoError(t, m.Close(ctx))
		})
	}
}

// TestAPanickingLoggerDoesNotCrashAPanickingHook: a BeforeClose hook that
// panics is logged from the goroutine that closed the connection, inside
// its recover; a logger panicking there used to take the process down.
func TestAPanickingLoggerDoesNotCrashAPanickingHook(t *testing.T) {
	closed := make(chan struct{}, 1)
	m, _ := newManager(t, Config{MaxSize: 1, Logger: slog.New(panickyHandler{"Handle": true}), HealthCheckAfter: -1,
		Hooks: Hooks{BeforeClose: func(driver.Conn) { closed <- struct{}{}; panic("hook panicked") }}})
	l := acquire(t, m, identity("a"))
	require.IsType(t, &memdb.Conn{}, l.Raw())
	l.Release(driver.ErrBadConn)
	<-closed
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, m.Close(ctx))
}
