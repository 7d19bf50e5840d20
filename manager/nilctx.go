package manager

import (
	"context"

	"github.com/idpool/idpool/tokens"
)

// ErrNilContext is the error of a call given a nil ctx, and the same value as
// tokens.ErrNilContext (which tokens' own calls return; tokens cannot import
// manager), so one errors.Is covers both: Manager.Acquire, Evict, Reset and
// Close, Lease.WithRaw and CheckIdentity (and
// drivers/postgres's Pool, Lease and transaction calls, both drivers'
// Dialer.Dial and Probe, and fleet.Budget.Close) refuse one
// first, before anything is queued, leased, evicted or closed, with an
// error that matches it and names the call. Left to run, a nil ctx
// panicked with a bare nil-pointer dereference somewhere inside, part-way
// through (WithRaw's after f had run). staticcheck warns about a nil ctx,
// but code generated or wrapped by other libraries still passes one: pass
// context.Background() or context.TODO(). database/sql never passes nil
// to the driver.Conn and driver.Connector methods, which do not check.
var ErrNilContext = tokens.ErrNilContext

// nilContextError is ErrNilContext naming the call (Type.Method) that was
// given a nil ctx; a string, so that the refusal allocates nothing.
type nilContextError string

func (e nilContextError) Error() string {
	return "idpool: " + string(e) + ": nil Context (pass context.Background() or context.TODO(), not nil)"
}

// Is makes the error match ErrNilContext.
func (e nilContextError) Is(target error) bool { return target == ErrNilContext }

// ctxEnded reports whether ctx, kept from an earlier call, has ended. ctx
// is the caller's own code and this call is not that caller's: should its
// Err panic, the panic would unwind the call part-way (Release, after the
// lease ended and before the pool heard of it, losing the slot for good).
// A ctx that panics counts as ended, and its panic goes no further.
func ctxEnded(ctx context.Context) (ended bool) {
	if ctx == nil {
		return false
	}
	defer func() {
		if recover() != nil {
			ended = true
		}
	}()
	return ctx.Err() != nil
}
