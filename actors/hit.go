package actors

import (
	"database/sql/driver"
	"time"
)

// The hit path: an acquire an idle connection answers at once, and the
// release that gives it back. Under load with many identities most steps
// are these two, and each decides one thing (this connection, or back to
// idle) with nothing else to do. StepHit and StepHitRelease make those two
// decisions without the effect list: Step's output is a list of Effects
// (each about 200 bytes, borrowed and handed back through Ready and
// Advance) that a driver walks to find one grant, or nothing. They are
// not a second set of rules: each checks that the step is a plain hit and
// then makes the very changes Step makes (the same functions), and
// TestFastPathsDifferential checks, after every step of random sequences,
// that a pool stepped through them decides and reports exactly what a
// reference pool stepped only through Step does.

// Grant is the connection StepHit granted: the acquire's caller gets
// Resource, named Conn, and its Release names Conn.
type Grant struct {
	Conn     ConnID
	Resource driver.Conn
}

// StepHit is Step(now, in) for an acquire that an idle connection answers
// at once with nothing else to do: no waiter ahead, the connection needs
// no check, none is dead on top of the idle list, no wake to set, no
// permit book to balance. It then returns the grant, which Step would have
// handed out through Ready as the one EffGrant (to in.ReplyTo, in.ID,
// Waited 0), and true. Otherwise it changes nothing and returns false:
// the driver steps in as usual. Like Step it panics between Ready and
// Advance.
func (p *Pool) StepHit(now time.Time, in Acquire) (Grant, bool) {
	if p.handedOut {
		panic(errStepBeforeAdvance)
	}
	if p.closing || p.waiters.live != 0 || p.awaitingPermit != 0 || len(p.idle) == 0 || p.retireWakeDue(now) {
		return Grant{}, false
	}
	c := p.idle[len(p.idle)-1]
	if _, dead := p.deadAt(c, now); dead || p.checkFor(now, c) != checkNone {
		return Grant{}, false
	}
	p.noteAcquire(now)
	p.idle[len(p.idle)-1] = nil
	p.idle = p.idle[:len(p.idle)-1]
	p.lend(c, in.Holder, 0)
	return Grant{Conn: c.id, Resource: c.resource}, true
}

// StepHitRelease is Step(now, in) for a release that returns a healthy
// connection to the idle list with nothing else to do: not broken, not past
// its lifetime or token, no waiter to serve, no debt to the manager, no
// wake to set, no MinSize to refill. It then makes Step's changes and
// returns true (Step's Ready would have been empty). Otherwise it changes
// nothing and returns false: the driver steps in as usual. Like Step it
// panics between Ready and Advance.
func (p *Pool) StepHitRelease(now time.Time, in Release) bool {
	if p.handedOut {
		panic(errStepBeforeAdvance)
	}
	if in.Broken || p.closing || p.owed != 0 || p.awaitingPermit != 0 || !p.nothingToServe() {
		return false
	}
	c := p.connOf(in.Conn)
	if c == nil || c.state != connBusy || p.wakeAt.IsZero() || p.needsWakeBefore(c, p.wakeAt) {
		return false
	}
	if _, dead := p.deadAt(c, now); dead {
		return false
	}
	p.unlend(now, c)
	c.idleSince = now
	p.pushIdle(c)
	if p.unused() && p.waiters.holdsMemory() {
		p.waiters.trim() // as at the end of every Step
	}
	return true
}
