package messages

import "github.com/asynkron/protoactor-go/actor"

// The global cap (Config.MaxTotal): a pool needs a permit from the manager
// for every connection it opens, and hands it back when the connection
// closes or the dial fails.

// PermitRequest asks the manager for one permit. Fill marks a request made
// only to keep the pool at MinSize: the manager grants it if there is room
// and otherwise refuses it (FillRefused) without queueing it or taking a
// connection from another pool, so MinSize yields to the global cap.
type PermitRequest struct {
	Pool *actor.PID
	Fill bool
}

// FillRefused answers a Fill PermitRequest made at the global cap.
type FillRefused struct{}

// PermitGrant gives the requesting pool one permit.
type PermitGrant struct{}

// PermitDenied refuses a request for good: the manager is closing.
type PermitDenied struct{}

// PermitReturn hands one permit back.
type PermitReturn struct{ Pool *actor.PID }

// StealRefused answers a StealIdle the pool cannot honour: it has no
// connection it has not already promised.
type StealRefused struct{ Pool *actor.PID }

// StealIdle asks a pool to close one connection (its oldest idle one, or the
// next one released) so that another pool can open one under the cap.
type StealIdle struct{}

// WithdrawPermit asks the manager to take one of the pool's queued permit
// requests off its queue: the waiter it was for is gone (timed out,
// cancelled, failed, or served by a connection that came back). The manager
// answers PermitWithdrawn, after any answer it sent earlier. GaveUp: the
// waiter timed out or was cancelled (its caller may ask the fleet gate why,
// see manager.FleetTimeoutError).
// Fill: the request is kept only for MinSize; it is withdrawn only if
// queued (where it would take another pool's connection), not when it
// waits at the fleet gate.
type WithdrawPermit struct {
	Pool   *actor.PID
	GaveUp bool
	Fill   bool
}

// PermitWithdrawn answers WithdrawPermit. Removed: a request was taken off
// the queue and will get no other answer. Otherwise none was queued any more
// (it was granted, refused or denied before).
type PermitWithdrawn struct{ Removed bool }

// StealCancelled calls off one StealIdle the pool has not paid yet: the
// request it was made for was withdrawn. A debt already paid stays paid.
type StealCancelled struct{}
