// Package pastctx bounds a call that outlives its ctx. A driver may keep a
// call running well after its ctx ended (go-mssqldb waits up to 5 s, twice,
// for a server to confirm a cancel); a Calls runs a cut (which closes the
// call's network connection, so that the call fails at once) once the ctx
// has ended and a grace has passed, if a call made under that ctx is still
// in flight.
//
// Exit and Stop tell the call's end and the cut apart exactly: after
// either returns, no cut is running or will run for that call, and Stop
// reports whether one ran. A caller therefore never cuts a connection that
// has gone on to serve someone else. The package takes no lock: one atomic
// state word decides.
package pastctx

import (
	"context"
	"time"
)

// Start watches one call made under ctx, already begun: Track with the
// call entered. Stop ends it (no Exit is needed) and reports whether it
// was cut. A ctx that can never end is not watched: Start returns nil.
func Start(ctx context.Context, grace time.Duration, arm Arm, cut Cut) *Calls {
	c := Track(ctx, grace, arm, cut)
	c.Enter()
	return c
}

// StartEnded watches one call, already begun, as if its ctx had ended just
// now, whatever its ctx: it is cut grace from now if it is still running.
// For a wait whose caller has given up on it with no ctx to say so (the
// Close of a result set, or the rollback of a transaction, left open at a
// lease's Release). Stop ends the watch (no Exit is needed), stops the
// grace's timer and reports whether the call was cut. It registers nothing
// on any ctx.
func StartEnded(grace time.Duration, arm Arm, cut Cut) *Calls {
	c := &Calls{cut: cut, unregister: func() bool { return false }}
	c.state.Store(callInFlight)
	c.armGrace(arm, grace)
	return c
}
