package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/memdb"
)

// panicCtx is a caller's ctx whose method named by `in` panics: the
// hostile caller of the entry points below.
type panicCtx struct {
	context.Context
	in string
	// armed, when set, holds the panics back until it is true.
	armed *atomic.Bool
}

func (c panicCtx) hit(m string) bool { return c.in == m && (c.armed == nil || c.armed.Load()) }

func (c panicCtx) Done() <-chan struct{} {
	if c.hit("Done") {
		panic("hostile ctx: Done")
	}
	return c.Context.Done()
}

func (c panicCtx) Err() error {
	if c.hit("Err") {
		panic("hostile ctx: Err")
	}
	return c.Context.Err()
}

func (c panicCtx) Deadline() (time.Time, bool) {
	if c.hit("Deadline") {
		panic("hostile ctx: Deadline")
	}
	return c.Context.Deadline()
}

func (c panicCtx) Value(k any) any {
	if c.hit("Value") {
		panic("hostile ctx: Value")
	}
	return c.Context.Value(k)
}

var ctxMethods = []string{"Done", "Err", "Deadline", "Value"}

// TestAPanickingCtxLeavesNothingBehind: a ctx whose Done, Err, Deadline or
// Value panics may take its panic to its caller, but leaves no state
// behind: the lease WithRaw ran on is released and its slot serves again
// (MaxSize 1), and a Close, Evict or Reset that panicked is followed by
// a Manager that still serves or, after Close, finishes closing.
func TestAPanickingCtxLeavesNothingBehind(t *testing.T) {
	for _, in := range ctxMethods {
		t.Run(in, func(t *testing.T) {
			m, _ := newManager(t, Config{MaxSize: 1})
			id := identity("hostile")
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			hctx := panicCtx{ctx, in, nil}

			l := acquire(t, m, id)
			_ = try(func() { _ = l.WithRaw(hctx, func(driver.Conn) error { return errors.New("app") }) })
			_ = try(func() { _ = l.CheckIdentity(hctx) })
			require.Nil(t, try(func() { l.Release(nil) }), "Release panicked: a ctx of an earlier call reached it")
			requireServes(t, m, id)

			_ = try(func() { _ = m.Evict(hctx, id) })
			requireServes(t, m, id)
			_ = try(func() { _ = m.Reset(hctx) })
			requireServes(t, m, id)

			l = acquire(t, m, id)
			_ = try(func() { _ = m.Close(hctx) })
			l.Release(nil)
			// newManager's cleanup: Close completes, nothing left open.
		})
	}
}

// abortingDB is memdb with a Dialer that is a manager.Aborter (and not
// CtxBounded), so that the Manager watches each lease call under its ctx
// (pastctx), registering on ctx with context.AfterFunc.
type abortingDB struct{ *memdb.DB }

func (abortingDB) AbortTransport(driver.Conn) bool { return true }

// TestACtxThatPanicsAsItsWatchEndsLeavesNothingBehind: with a Dialer that
// is an Aborter, WithRaw watches its call under ctx, and ends the watch
// after f (context.AfterFunc's stop, which reads ctx's Done and Value).
// A ctx whose Done or Value panics only then takes the panic to the
// caller, and still the guard is left, the lease released and its slot
// served again.
func TestACtxThatPanicsAsItsWatchEndsLeavesNothingBehind(t *testing.T) {
	for _, in := range ctxMethods {
		t.Run(in, func(t *testing.T) {
			db := memdb.New()
			t.Cleanup(func() { // after newManager's Close
				require.Zero(t, db.OpenNow(), "connections left open after Close")
				require.Zero(t, db.Misuse(), "misuse: %v", db.Misuses())
			})
			m, _ := newManager(t, Config{MaxSize: 1, Dialer: abortingDB{db}, CancelGrace: time.Hour})
			id := identity("watch")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			armed := new(atomic.Bool)
			hctx := panicCtx{ctx, in, armed}
			l := acquire(t, m, id)
			r := try(func() { _ = l.WithRaw(hctx, func(driver.Conn) error { armed.Store(true); return nil }) })
			if in == "Done" || in == "Value" {
				require.NotNil(t, r, "the watch's end read ctx's %s", in)
			}
			require.Nil(t, try(func() { l.Release(nil) }), "Release panicked")
			armed.Store(false)
			cancel() // nothing the watch left behind may fire now
			requireServes(t, m, id)
		})
	}
}
