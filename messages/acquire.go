package messages

import (
	"database/sql/driver"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/idpool/idpool/tokens"
)

// Acquire asks for a connection of Identity's pool, found by the identity's
// Discriminator (a manager serves one server). It travels caller -> pool
// actor over the route the manager published for the identity, or, when
// there is none or it is closed, caller -> manager -> pool actor (the
// manager spawns the pool on first use). Exactly one terminal Reply is sent
// on Reply: granted or failed; if the caller sends Cancel first, the one
// reply may instead say Cancelled.
type Acquire struct {
	// ID is unique per acquire; Cancel names it.
	ID            uint64
	Discriminator string
	Identity      tokens.Identity
	// Reply must have capacity for one value, so the pool never blocks on it.
	Reply chan Reply
	// Timeout, if positive, makes the pool fail the acquire itself once it
	// has queued that long (the caller's ctx had no deadline of its own).
	Timeout time.Duration
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

// Reply answers an Acquire. Exactly one of Conn, Err or Cancelled is set.
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
}

// Release hands a connection back to its pool. The caller has already done
// the reset I/O (rollback, session reset) in its own goroutine; Broken says
// that failed, or that the connection's wire state is unknown, so it must be
// closed rather than reused.
type Release struct {
	ConnID uint64
	Broken bool
}
