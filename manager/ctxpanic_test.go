package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// panicCtx is a caller's ctx whose method named by `in` panics: the
// hostile caller of the entry points below.
type panicCtx struct {
	context.Context
	in string
}

func (c panicCtx) Done() <-chan struct{} {
	if c.in == "Done" {
		panic("hostile ctx: Done")
	}
	return c.Context.Done()
}

func (c panicCtx) Err() error {
	if c.in == "Err" {
		panic("hostile ctx: Err")
	}
	return c.Context.Err()
}

func (c panicCtx) Deadline() (time.Time, bool) {
	if c.in == "Deadline" {
		panic("hostile ctx: Deadline")
	}
	return c.Context.Deadline()
}

func (c panicCtx) Value(k any) any {
	if c.in == "Value" {
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
			hctx := panicCtx{ctx, in}

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
