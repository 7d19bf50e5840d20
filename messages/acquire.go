package messages

import (
	"context"
	"database/sql/driver"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/idpool/idpool/tokens"
)

// Acquire asks for a connection of Identity's pool, found by the identity's
// Discriminator (a manager serves one server). It travels caller -> pool
// actor over the route the manager published for the identity, or, when
// there is none or it is closed, caller -> manager -> pool actor (the
// manager spawns the pool on first use). Exactly one terminal answer comes:
// a Reply on Reply, granted or failed (if the caller sends Cancel first, it
// may instead say Cancelled), or, for a grant made while the pool handles
// this Acquire and taken by Direct, that grant instead.
type Acquire struct {
	// ID is unique among the acquires one pool actor receives (the
	// manager numbers them per route, see manager.Manager's send); Cancel
	// names it.
	ID            uint64
	Discriminator string
	Identity      tokens.Identity
	// Reply must have capacity for one value, so the pool never blocks on it.
	Reply chan Reply
	// Timeout, if positive, makes the pool fail the acquire itself once it
	// has queued that long (the caller's ctx had no deadline of its own).
	Timeout time.Duration
	// Ctx is the caller's ctx, for its values only (trace span, request
	// ids for logs): the pool never waits on it, since the caller enforces
	// its deadline and cancellation itself. A dial, token mint or health
	// check the acquire starts carries its values, and so do the log lines
	// it causes. Nil means context.Background().
	Ctx context.Context
	// Direct, if set, takes a connection granted while the pool handles
	// this very Acquire (a pool hit), in place of a Reply on Reply: see
	// DirectGrant. Nil: every answer goes on Reply.
	Direct DirectGrant
}

// DirectGrant hands a connection to an acquire's caller without a channel.
// A pool hit is decided while the pool handles the Acquire, which with the
// inline dispatcher is usually on the caller's own goroutine before its send
// returns: a channel send and receive there cost more than the rest of the
// hand-over. The caller and the pool race on one state word: the pool
// stores the grant and marks it taken unless the caller has already begun to
// wait on Reply, and the caller, once its send returns, marks that it waits
// unless the grant is already there. Exactly one of them wins, so the
// answer arrives exactly once: directly, or on Reply.
type DirectGrant interface {
	// Grant stores a granted connection for the caller and reports whether
	// the caller will take it from there. False: the caller already waits
	// on Reply, and the grant must be sent there instead.
	Grant(conn driver.Conn, connID uint64, pool *actor.PID) bool
	// CloseAfterOperation is asked by a forced close of the connection
	// granted to this acquire, after its transport was cut (when the
	// Dialer can cut and CancelGrace is on; else at once): it reports
	// whether an operation of the caller is still inside the connection.
	// If so, the pool must not close it under that operation; the caller
	// sends CloseAfterOperation to the pool when the operation leaves,
	// and the pool closes the connection then. False: nothing of the
	// caller's is inside, and nothing will be sent.
	CloseAfterOperation() bool
}

// Cancel withdraws the acquire with ID because the caller's ctx ended. It
// takes its Acquire's path (to the pool directly, or through the manager,
// which forwards it to the same pool). The caller then reads exactly one more
// Reply on that acquire's channel.
type Cancel struct {
	ID            uint64
	Discriminator string
	// Timeout is true when the ctx's deadline passed (counted as a timeout),
	// false when it was cancelled.
	Timeout bool
}

// Reply answers an Acquire: a grant (Conn), a failure (Err), or Cancelled,
// the acquire withdrawn by its Cancel while still queued, with Err its
// timeout error (which says what the pool was doing).
type Reply struct {
	Conn driver.Conn
	// ConnID names the connection in the Release that returns it.
	ConnID uint64
	// Pool is where the Release goes.
	Pool *actor.PID
	Err  error
	// Cancelled: the acquire was still queued when its Cancel arrived.
	Cancelled bool
	// MaxSize and Waiters describe the pool at the time of a Cancelled reply,
	// for the timeout error.
	MaxSize, Waiters int
	// Waited is how long a granted acquire queued in the pool, by the
	// pool's clock: zero when an idle connection was ready at once.
	Waited time.Duration
}

// Release hands a connection back to its pool. The caller has already done
// the reset I/O (rollback, session reset) in its own goroutine; Broken says
// that failed, or that the connection's wire state is unknown, so it must be
// closed rather than reused.
type Release struct {
	ConnID uint64
	Broken bool
}
