package actors

import (
	"database/sql/driver"
	"time"

	"github.com/idpool/idpool/messages"
	"github.com/idpool/idpool/tokens"
)

// ConnID names one physical connection within its pool.
type ConnID uint64

// EffectKind says what the actor must do for an Effect.
type EffectKind uint8

// The effects the state machine asks for.
const (
	// EffGrant answers ReplyTo with the connection (Conn, Resource).
	EffGrant EffectKind = iota + 1
	// EffFail answers ReplyTo with Err.
	EffFail
	// EffCancelled answers ReplyTo: its acquire was still queued when
	// cancelled. Err is its *TimeoutError, saying what it waited on.
	EffCancelled
	// EffDial opens one connection, logging in with Token when the pool uses tokens.
	EffDial
	// EffMint asks the token source for a token.
	EffMint
	// EffValidate health-checks Conn (ping or IsValid) off the mailbox.
	EffValidate
	// EffClose closes Conn (Resource) off the mailbox, for Reason.
	EffClose
	// EffWake asks for a Tick at At (replacing any earlier request).
	EffWake
	// EffDrained reports that a closing pool has closed everything.
	EffDrained
	// EffRequestPermit asks the manager for a permit to dial (global cap);
	// Fill says it is only for MinSize.
	EffRequestPermit
	// EffReturnPermit hands a permit back.
	EffReturnPermit
	// EffStealRefused answers a StealIdle the pool cannot honour.
	EffStealRefused
	// EffRetire asks the manager to retire this idle pool; Seen is the number
	// of acquires the pool has received.
	EffRetire
	// EffEvicted answers an Evict on Evicted: every connection from before
	// it has been closed.
	EffEvicted
	// EffWithdrawPermit asks the manager to withdraw one of the pool's
	// queued permit requests, which no waiter needs any more; the manager
	// answers PermitWithdrawn.
	EffWithdrawPermit
)

// Effect is one instruction from the state machine to its driver. Only the
// fields named for its Kind are set. It is one flat struct, not an interface
// per kind, so that handing effects out allocates nothing on the hot path;
// every field is typed.
//
// The one-byte fields (Kind, Reason, Fill, GaveUp) sit together so that they
// share one word (an Effect is 176 bytes).
type Effect struct {
	Kind EffectKind
	// Reason says why EffClose closes.
	Reason CloseReason
	// Fill marks an EffRequestPermit made only to keep MinSize; the manager
	// refuses it at the cap (Pool.PermitRefused) rather than queue it. On
	// an EffWithdrawPermit it marks a request now kept only for MinSize:
	// the manager withdraws it only if it is queued (where it would take
	// another pool's connection), not when it waits at the fleet gate.
	Fill bool
	// GaveUp marks an EffWithdrawPermit made because a waiter timed out or
	// was cancelled (in the same Step), not because one was served
	// otherwise: the fleet gate tells such a caller it waited for the fleet
	// (manager.FleetTimeoutError).
	GaveUp bool
	// ReplyTo is the Acquire's ReplyTo, handed back untouched.
	ReplyTo   chan messages.Reply
	AcquireID uint64
	Conn      ConnID
	// Resource is the connection itself (EffGrant, EffValidate, EffClose).
	Resource driver.Conn
	Token    tokens.Token
	Err      error
	At       time.Time
	Seen     uint64
	// Waiters is the queue length left behind by a cancelled acquire.
	Waiters int
	// Waited is how long the granted acquire queued.
	Waited time.Duration
	// Evicted is the Done channel of the Evict that EffEvicted answers.
	Evicted chan<- struct{}
	// Holder is the caller a connection closed by force was leased to
	// (EffClose, ReasonForced; nil if its acquire named none). The driver
	// cuts the connection's transport (ActorConfig.Abort, when set), then
	// asks Holder whether an operation of the caller is still inside it:
	// if so it puts the Close off until the caller reports that operation
	// gone (see messages.DirectGrant), and CloseDone only follows that
	// Close.
	Holder messages.DirectGrant
}
