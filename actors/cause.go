package actors

import (
	"context"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/idpool/idpool/messages"
)

// The cause of a step is the ctx of the acquire (or of the dial, token mint
// or health check an acquire started) whose message the pool actor is
// handling. Work the step starts carries its values, and so do the log
// lines it writes: a request's trace and its log lines join up, however
// many hops the work took. Only values pass on: the work keeps its own
// deadline and the pool's cancellation, never the caller's.

// A dial, mint or health check started in a step that has no cause of its
// own (a close finished, a permit came) serves the oldest acquire queued, so
// it takes that acquire's ctx: the actor keeps the ctxs of queued acquires
// (only theirs: a pool hit is answered in its own step and kept nowhere).

// waitingCause is a queued acquire's ctx.
type waitingCause struct {
	id  uint64
	ctx context.Context
}

// noteWaiting keeps the ctx of an acquire that queued (was not answered in
// its own step).
func (a *poolActor) noteWaiting(m *messages.Acquire) {
	if a.acquiring != nil && m.Ctx != nil {
		a.waiting = append(a.waiting, waitingCause{m.ID, m.Ctx})
	}
	a.acquiring = nil
}

// answered forgets the acquire id once the pool has answered it.
func (a *poolActor) answered(id uint64) {
	if a.acquiring != nil && id == a.acquiring.ID {
		a.acquiring = nil
		return
	}
	for i := range a.waiting {
		if a.waiting[i].id == id {
			// The slice keeps its capacity while the pool is busy (step
			// gives it back once the pool is idle): a queue that empties
			// and fills again allocates nothing.
			a.waiting = append(a.waiting[:i], a.waiting[i+1:]...)
			a.waiting[len(a.waiting):cap(a.waiting)][0] = waitingCause{} // drop the ctx
			return
		}
	}
}

// workCause is the ctx whose values work started now carries: the step's
// own cause, else the oldest queued acquire's, else none.
func (a *poolActor) workCause(c actor.Context) context.Context {
	if cause := causeOf(c.Message()); cause != nil {
		return cause
	}
	if len(a.waiting) > 0 {
		return a.waiting[0].ctx
	}
	return nil
}

// causeOf returns the ctx a message carries for its values, or nil.
func causeOf(msg any) context.Context {
	switch m := msg.(type) {
	case *messages.Acquire:
		return m.Ctx
	case *messages.DialDone:
		return m.Ctx
	case *messages.MintDone:
		return m.Ctx
	case *messages.ValidateDone:
		return m.Ctx
	}
	return nil
}

// logCtx is the ctx the step handling c's message logs with.
func logCtx(c actor.Context) context.Context {
	if cause := causeOf(c.Message()); cause != nil {
		return cause
	}
	return context.Background()
}

// workCtx returns the ctx for work the current step starts: the cause's
// values (none without a cause), bounded by d and cancelled with the pool.
func workCtx(life, cause context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if cause == nil {
		return context.WithTimeout(life, d)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(cause), d)
	stop := context.AfterFunc(life, cancel)
	return ctx, func() { stop(); cancel() }
}

// valuesOf is what a Done message carries back: the cause's values, not its
// deadline, so a log line written after the work ended still has them.
func valuesOf(cause context.Context) context.Context {
	if cause == nil {
		return nil
	}
	return context.WithoutCancel(cause)
}
