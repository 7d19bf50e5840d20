// Package pastctx bounds a call that outlives its ctx. A driver may keep a
// call running well after its ctx ended (go-mssqldb waits up to 5 s, twice,
// for a server to confirm a cancel); a Watch runs a cut (which closes the
// call's network connection, so that the call fails at once) once the ctx
// has ended and a grace has passed, unless the call ended first.
//
// Stop tells the two apart exactly: after Stop returns, no cut is running
// or will run, and Stop reports whether one ran. A caller therefore never
// cuts a connection that has gone on to serve someone else. The package
// takes no lock: one atomic state word decides.
package pastctx

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"
)

// The states of a Watch.
const (
	armed uint32 = iota
	stopped
	cutting
	done
)

// Watch bounds one call by its ctx and a grace. The zero Watch is not
// usable; a nil *Watch (Start's result when there is nothing to watch)
// stops as a call that was never cut.
type Watch struct {
	state      atomic.Uint32
	unregister func() bool
}

// Start watches a call made under ctx: once ctx has ended, afterFunc is
// asked to run, grace later, the cut, which runs unless Stop came first.
// A ctx that can never end is not watched: Start returns nil. afterFunc is
// the caller's clock (time.AfterFunc, or a test's). A panic in cut is
// recovered: the cut counts as done.
func Start(ctx context.Context, grace time.Duration, afterFunc func(time.Duration, func()), cut func()) *Watch {
	if ctx.Done() == nil {
		return nil
	}
	w := &Watch{}
	w.unregister = context.AfterFunc(ctx, func() { afterFunc(grace, func() { w.fire(cut) }) })
	return w
}

// fire runs the cut unless the call has ended.
func (w *Watch) fire(cut func()) {
	if !w.state.CompareAndSwap(armed, cutting) {
		return
	}
	defer w.state.Store(done)
	defer func() { _ = recover() }()
	cut()
}

// Stop ends the watch when its call has ended and reports whether the call
// was cut. A cut under way is waited for, so that none runs after Stop
// returns; a cut must therefore be quick and never wait for the call.
func (w *Watch) Stop() (cut bool) {
	if w == nil {
		return false
	}
	w.unregister()
	if w.state.CompareAndSwap(armed, stopped) {
		return false
	}
	for w.state.Load() == cutting {
		runtime.Gosched()
	}
	return w.state.Load() == done // stopped by an earlier Stop: no cut
}
