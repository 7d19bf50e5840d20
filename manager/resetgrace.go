package manager

import (
	"context"
	"time"
)

// releaseGraceKey is the ctx key of the CancelGrace a Manager hands its
// driver's ResetSession at Release.
type releaseGraceKey struct{}

// withReleaseGrace is ctx carrying grace for ReleaseGrace; ctx itself when
// grace is not positive (CancelGrace off). It is made once per Manager, so that a
// release pays nothing for it.
func withReleaseGrace(ctx context.Context, grace time.Duration) context.Context {
	if grace <= 0 {
		return ctx
	}
	return context.WithValue(ctx, releaseGraceKey{}, grace)
}

// ReleaseGrace reports the bound a driver's ResetSession should keep to when
// the Manager calls it at Release: Config.CancelGrace, as for the rollback of
// a transaction and the Close of a result set left open. Release runs in the
// caller's goroutine (database/sql releases before a call returns, and at
// (*sql.Conn).Close and Tx.Commit), so a reset that does I/O (drivers/postgres's
// DISCARD ALL) against a server that stopped answering would otherwise hold
// the call, past its own ctx, for as long as the driver allows. ok is false
// for any other ctx, and with CancelGrace off (negative: never cut).
func ReleaseGrace(ctx context.Context) (grace time.Duration, ok bool) {
	if ctx == nil {
		return 0, false
	}
	grace, ok = ctx.Value(releaseGraceKey{}).(time.Duration)
	return grace, ok
}
