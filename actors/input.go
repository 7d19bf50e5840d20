package actors

import (
	"database/sql/driver"
	"time"

	"github.com/idpool/idpool/messages"
	"github.com/idpool/idpool/tokens"
)

// Input is one thing that happens to a pool: a caller's request, the result
// of an effect the pool asked for, a timer, or a word from the manager. It is
// sealed (only this package defines inputs), so Step's switch is exhaustive
// and a driver cannot invent an event the pool does not model.
type Input interface{ isInput() }

// Start opens the MinSize connections and arms the timers. It is the first
// input of every pool.
type Start struct{}

// Acquire asks for a connection. An idle connection that needs no check is
// granted at once; otherwise the caller queues (FIFO) and the pool dials if
// it has room. A queued caller still waiting after Timeout (if positive)
// fails with a *TimeoutError; a caller bounding the wait itself passes zero
// and sends Cancel when it gives up.
type Acquire struct {
	// ID names the acquire in Cancel and in the effect that answers it.
	ID uint64
	// ReplyTo is handed back untouched in the effect that answers the
	// acquire; the pool never sends on it (nil is fine for a driver that
	// finds its callers by ID).
	ReplyTo chan messages.Reply
	Timeout time.Duration
	// Holder is the caller as a forced close sees it (nil: none, as in the
	// simulation): the pool keeps it with the connection granted to the
	// acquire, and hands it to the EffClose of a forced close (see
	// ForceClose).
	Holder messages.DirectGrant
}

// Cancel withdraws a queued acquire whose caller gave up. If it was already
// answered, Cancel does nothing: the caller reads that answer instead.
// Timeout says the caller's deadline passed (counted as a timeout) rather
// than its ctx being cancelled.
type Cancel struct {
	ID      uint64
	Timeout bool
}

// Release takes back a granted connection. Broken means its wire state is
// unknown or its reset failed: it is closed and its slot freed. Releasing a
// connection that is not out is ignored and counted as misuse.
type Release struct {
	Conn   ConnID
	Broken bool
}

// DialDone is the result of an EffDial: the new connection (nil on error)
// and the token it logged in with. Epoch is Pool.Epoch when the dial
// started: a connection dialed before an Evict is closed, not used.
type DialDone struct {
	Conn  driver.Conn
	Token tokens.Token
	Err   error
	Epoch uint64
}

// MintDone is the result of an EffMint.
type MintDone struct {
	Token tokens.Token
	Err   error
}

// ValidateDone is the result of an EffValidate: whether Conn is healthy.
type ValidateDone struct {
	Conn ConnID
	OK   bool
}

// CloseDone says the close of Conn asked for by an EffClose has finished.
type CloseDone struct{ Conn ConnID }

// Tick is the timer asked for by the latest EffWake: timeouts, lifetimes,
// idle sweeps, MinSize, token refresh and retirement are looked at.
type Tick struct{}

// Close shuts the pool (the manager retires or closes it): queued waiters
// fail with ErrClosed, idle connections close now, busy ones when released.
// EffDrained follows once everything is closed. Close is idempotent.
type Close struct{}

// ForceClose closes the connections still leased out after Close (each
// EffClose carries its holder, whose operation still inside the connection
// it waits for: see Effect.Holder), for a
// shutdown that will not wait any longer. It does nothing before Close.
type ForceClose struct{}

// NewCredential says an acquire brought a credential other than the one
// the pool mints with (the newest credential wins): every mint from now on
// uses it, and a blocking period begun by failed mints ends.
type NewCredential struct{}

// Evict drops every connection the pool holds now, and the token it holds;
// the pool keeps serving with new connections. Done, if not nil, receives
// one value (EffEvicted) once every connection of before the Evict has
// finished closing (those whose close had begun before it too); it must
// have room for it.
type Evict struct {
	Done chan<- struct{}
	// A trailing zero-size field keeps Evict two words wide. A struct of
	// one pointer is stored in an interface as that pointer, so Step
	// keeping Done would make every input escape, and the hit path
	// allocate (TestStepHitPathAllocatesNothing).
	_ struct{}
}

// PermitGranted answers an EffRequestPermit: the reservation may dial.
type PermitGranted struct{}

// PermitRefused answers a fill request (EffRequestPermit with Fill) made at
// the global cap: no fill is asked for again for a while.
type PermitRefused struct{}

// PermitDenied answers an EffRequestPermit the manager will never grant (it
// is closing).
type PermitDenied struct{}

// StealIdle asks the pool to give up a connection for another pool under the
// global cap; EffStealRefused answers it when the pool has nothing to give.
type StealIdle struct{}

// PermitWithdrawn answers an EffWithdrawPermit. Removed: the manager took
// one of the pool's queued permit requests off its queue (no answer will
// come for it); otherwise it had none queued any more (the request was
// answered before this).
type PermitWithdrawn struct{ Removed bool }

// StealCancelled calls off one StealIdle not yet paid: the request it was
// made for was withdrawn.
type StealCancelled struct{}

func (Start) isInput()           {}
func (Acquire) isInput()         {}
func (Cancel) isInput()          {}
func (Release) isInput()         {}
func (DialDone) isInput()        {}
func (MintDone) isInput()        {}
func (ValidateDone) isInput()    {}
func (CloseDone) isInput()       {}
func (Tick) isInput()            {}
func (Close) isInput()           {}
func (ForceClose) isInput()      {}
func (PermitGranted) isInput()   {}
func (PermitRefused) isInput()   {}
func (PermitDenied) isInput()    {}
func (StealIdle) isInput()       {}
func (NewCredential) isInput()   {}
func (Evict) isInput()           {}
func (PermitWithdrawn) isInput() {}
func (StealCancelled) isInput()  {}
