package actors

import (
	"context"
	"time"

	"github.com/idpool/idpool/messages"
)

// The cause of a step is the ctx of the acquire (or of the dial, token mint
// or health check an acquire started) whose message the pool actor is
// handling. Work the step starts carries its values, and so do the log
// lines it writes: a request's trace and its log lines join up, however
// many hops the work took. Only values pass on: the work keeps its own
// deadline and the pool's cancellation, never the caller's.

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

// logCtx is the ctx the current step logs with.
func (a *poolActor) logCtx() context.Context {
	if a.cause != nil {
		return a.cause
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
