// Package guardhook holds the one switch the simulation flips to inject the
// "skip-lease-guard" bug: with SkipLeaseGuard set, the manager's lease guard
// lets every call through, so that the stale_lease_use invariant can prove
// it would catch a guard that fails. Nothing outside the simulation's tests
// sets it; internal/ keeps it out of the public API.
package guardhook

import "sync/atomic"

// SkipLeaseGuard turns the lease guard off, process-wide. Tests only.
var SkipLeaseGuard atomic.Bool
