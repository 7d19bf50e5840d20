package pastctx

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"
)

// Calls bounds a sequence of calls made under one ctx, such as a query and
// then the calls on its result set (a driver reads the rest of the reply
// under the query's ctx), with one registration on the ctx instead of one
// per call. Once the ctx has ended and the grace has passed, the cut runs
// if a call is in flight (between Enter and Exit); if none is, nothing is
// cut, and every later Enter says so: that call, made after the grace, is
// to be watched on its own (Start), which cuts it grace after it began if
// it is still running. So a cut only ever reaches a call made under this
// ctx, and none runs once Stop (or the Exit of the call) has returned.
type Calls struct {
	state      atomic.Uint32
	unregister func() bool
	cut        Cut
	// stopTimer stops the grace's timer once one is armed (see Arm), so
	// that a watch stopped in time leaves none armed for the rest of the
	// grace, holding cut and whatever cut holds.
	stopTimer atomic.Pointer[func() bool]
}

// Arm starts a timer that calls f after d, and returns what stops it:
// time.AfterFunc's Stop, or a test clock's.
type Arm func(d time.Duration, f func()) (stop func() bool)

// Cut ends the call in flight (closes its connection) and returns what is
// to follow it, or nil. Exit and Stop wait for the cut itself, so that
// none runs once they return; then runs after the cut counts as done, and
// they do not wait for it: what may take long and needs no such order (a
// log line, whose handler may block) belongs there, not in the cut.
type Cut func() (then func())

// The bits of Calls.state.
const (
	callInFlight uint32 = 1 << iota
	callCutting
	callCut
	callsExpired
	callsStopped
)

// Track watches the calls to be made under ctx, or returns nil for a ctx
// that can never end. Once ctx has ended, arm (the caller's clock) is asked
// to run the check grace later. A panic in cut, or in what it returned to
// follow it, is recovered: the cut counts as done.
func Track(ctx context.Context, grace time.Duration, arm Arm, cut Cut) *Calls {
	if ctx.Done() == nil {
		return nil
	}
	c := &Calls{cut: cut}
	c.unregister = context.AfterFunc(ctx, func() { c.armGrace(arm, grace) })
	return c
}

// armGrace starts the grace's timer and keeps its stop for Stop. If Stop
// has already run, it stops the timer itself: Stop marks the watch stopped
// before it reads stopTimer, and this stores stopTimer before it reads the
// mark, so one of the two stops it (a second Stop does nothing).
func (c *Calls) armGrace(arm Arm, grace time.Duration) {
	stop := arm(grace, c.fire)
	c.stopTimer.Store(&stop)
	if c.state.Load()&callsStopped != 0 {
		stop()
	}
}

// fire cuts the call in flight, or marks the grace as past.
func (c *Calls) fire() {
	for {
		s := c.state.Load()
		switch {
		case s&(callsStopped|callCut) != 0:
			return
		case s&callInFlight == 0:
			if c.state.CompareAndSwap(s, s|callsExpired) {
				return
			}
		case c.state.CompareAndSwap(s, s|callCutting):
			var then func()
			func() {
				defer func() { _ = recover() }()
				then = c.cut()
			}()
			for {
				s := c.state.Load()
				if c.state.CompareAndSwap(s, (s|callCut|callsExpired)&^callCutting) {
					break
				}
			}
			if then != nil {
				defer func() { _ = recover() }()
				then()
			}
			return
		}
	}
}

// Enter begins a call and reports whether c watches it: false once the
// ctx's grace has passed with no call in flight, or after Stop, and for a
// nil c. A call that c does not watch is watched on its own, if at all.
func (c *Calls) Enter() bool {
	if c == nil {
		return false
	}
	for {
		s := c.state.Load()
		if s&(callsExpired|callsStopped) != 0 {
			return false
		}
		if c.state.CompareAndSwap(s, s|callInFlight) {
			return true
		}
	}
}

// Exit ends the call Enter began (only after an Enter that returned
// true). A cut under way is waited for, so that none runs after Exit
// returns.
func (c *Calls) Exit() {
	for {
		s := c.state.Load()
		if s&callCutting != 0 {
			runtime.Gosched()
			continue
		}
		if c.state.CompareAndSwap(s, s&^callInFlight) {
			return
		}
	}
}

// Stop ends the watch when no more calls will be made under it (a call in
// flight ends with it: Start's callers need no Exit), and reports whether
// one of them was cut. A cut under way is waited for. Nil-safe.
func (c *Calls) Stop() (cut bool) {
	if c == nil {
		return false
	}
	c.unregister()
	for {
		s := c.state.Load()
		if s&callCutting != 0 {
			runtime.Gosched()
			continue
		}
		if c.state.CompareAndSwap(s, s|callsStopped) {
			if stop := c.stopTimer.Load(); stop != nil {
				(*stop)()
			}
			return s&callCut != 0
		}
	}
}
