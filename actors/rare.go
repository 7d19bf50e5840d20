package actors

import (
	"time"

	"github.com/idpool/idpool/tokens"
)

// rareState is the part of a pool's state that only unusual events create:
// a failed dial or mint (the failure streak and its blocking period), an
// Evict, a token rotation. The Pool keeps it behind one pointer, nil until
// first needed, so that the Pool of an identity that never met one (most
// identity pools of a service) fits a smaller size class (see
// TestPoolFitsItsSizeClass). Once made it stays: the eviction epoch must
// never go back.
type rareState struct {
	ev evictState
	// dialFailures counts consecutive failed dials and mints; while now is
	// before blockedUntil the pool dials nothing (see DialBackoff).
	dialFailures int
	blockedUntil time.Time
	lastDialErr  error
	// freshTokens are tokens minted by a rotation for the waiters it sent
	// back to the queue; a dial for them uses one instead of minting again.
	freshTokens []tokens.Token
	// withdrawing counts the permit requests the pool asked the manager to
	// withdraw (EffWithdrawPermit) whose answer has not come; they are still
	// counted in awaitingPermit (and so against MaxSize) but no longer as
	// coming. withdrawnLate counts withdrawals whose request was answered
	// first (a grant that crossed the withdrawal): their answer will say
	// Removed false and concerns no request any more. See permits.go.
	withdrawing, withdrawnLate int
	// waiterAsked: under MinSize, a permit request made for a waiter (not
	// a fill) may still be unanswered; false once none is. Only such a
	// request may sit in the manager's queue (see withdrawExcess).
	waiterAsked bool
	// fillRetryAt is when a pool whose MinSize fill was held (fillHeld:
	// refused at the global cap, or failing without a blocking period)
	// may ask again (see permitRefused, holdFailingFill).
	fillRetryAt time.Time
	// fillHeldFailing: the hold (fillHeld) is holdFailingFill's, which
	// ends with the failures (endBlocking), not the cap's.
	fillHeldFailing bool
}

// rareMut returns the pool's rare state, making it, for a change.
func (p *Pool) rareMut() *rareState {
	if p.rare == nil {
		p.rare = &rareState{}
	}
	return p.rare
}

// dialFailures counts the consecutive failed dials and mints.
func (p *Pool) dialFailures() int {
	if p.rare == nil {
		return 0
	}
	return p.rare.dialFailures
}

// blockedUntil is the end of the blocking period; zero when none.
func (p *Pool) blockedUntil() time.Time {
	if p.rare == nil {
		return time.Time{}
	}
	return p.rare.blockedUntil
}

// lastDialErr is the error of the last failed dial or mint of the current
// failure streak; nil when there is none.
func (p *Pool) lastDialErr() error {
	if p.rare == nil {
		return nil
	}
	return p.rare.lastDialErr
}

// freshTokenCount is how many tokens a rotation left for dials.
func (p *Pool) freshTokenCount() int {
	if p.rare == nil {
		return 0
	}
	return len(p.rare.freshTokens)
}

// evictions counts the Evict inputs.
func (p *Pool) evictions() uint64 {
	if p.rare == nil {
		return 0
	}
	return p.rare.ev.evictions
}

// withdrawing counts the permit requests being withdrawn (see rareState).
func (p *Pool) withdrawing() int {
	if p.rare == nil {
		return 0
	}
	return p.rare.withdrawing
}

// withdrawalsInFlight reports whether a withdrawal is still unanswered.
func (p *Pool) withdrawalsInFlight() bool {
	return p.rare != nil && p.rare.withdrawing+p.rare.withdrawnLate > 0
}
