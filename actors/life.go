package actors

import "context"

// workLife is the ctx that cancels the pool's work in flight (dials, token
// mints, health checks) when the pool closes. It exists only while work is
// in flight: a pool that sits idle, as most identity pools of a busy
// service do, keeps no cancelable ctx (its struct, its Done channel and its
// map of children cost about 460 bytes, more than a quarter of an idle
// pool). The actor counts the work it started and drops the ctx when the
// last of it has reported back.
type workLife struct {
	ctx    context.Context
	cancel context.CancelFunc
	// inFlight counts the work started under ctx whose Done message the
	// actor has not handled yet.
	inFlight int
}

// closedLife is the life of a closed pool: its ctx is already cancelled, so
// work started after the close is aborted at once, as it was when the pool
// kept one ctx for its whole life.
var closedLife = func() *workLife {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return &workLife{ctx: ctx, cancel: cancel}
}()

// workStarted returns the ctx that work about to start runs under, and
// counts it: each such work reports back with exactly one Done message,
// which calls workDone.
func (a *poolActor) workStarted() context.Context {
	if a.life == closedLife {
		// Shared by every closed pool: never counted (workDone ignores it).
		return closedLife.ctx
	}
	if a.life == nil {
		ctx, cancel := context.WithCancel(context.Background())
		a.life = &workLife{ctx: ctx, cancel: cancel}
	}
	a.life.inFlight++
	return a.life.ctx
}

// workDone notes that one work has reported back, and drops the ctx when
// none is left in flight (nothing can then be aborted by cancelling it).
func (a *poolActor) workDone() {
	l := a.life
	if l == nil || l == closedLife || l.inFlight == 0 {
		return
	}
	l.inFlight--
	if l.inFlight == 0 {
		l.cancel()
		a.life = nil
	}
}

// closeLife aborts the work in flight; work started later is aborted at
// once.
func (a *poolActor) closeLife() {
	if a.life != nil {
		a.life.cancel()
	}
	a.life = closedLife
}
