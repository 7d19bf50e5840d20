package actors

import (
	"math"
	"time"
)

// blockAfter is how many dials or mints in a row must fail before a blocking
// period starts: one transient failure (a dropped SYN, a throttled login)
// should cost one caller, not every caller for a while.
const blockAfter = 2

// maxBackoff bounds a blocking period (about 146 years: never in practice),
// leaving room below the largest time.Duration for the jitter.
const maxBackoff = time.Duration(math.MaxInt64 / 2)

// startBlocking begins (or extends) the blocking period after failed dials
// or mints; see PoolConfig.DialBackoff.
func (p *Pool) startBlocking(now time.Time, err error) {
	r := p.rareMut()
	r.dialFailures++
	r.lastDialErr = err
	if r.dialFailures < blockAfter {
		return
	}
	if p.cfg.DialBackoff <= 0 {
		p.holdFailingFill(now)
		return
	}
	// Doubling saturates: a DialBackoff over about 2.5 hours shifted 20
	// times would wrap to a negative period, which without DialBackoffMax
	// made the jitter below panic inside the state machine.
	backoff, shift := maxBackoff, min(r.dialFailures-blockAfter, 20)
	if p.cfg.DialBackoff <= maxBackoff>>shift {
		backoff = p.cfg.DialBackoff << shift
	}
	if p.cfg.DialBackoffMax > 0 && backoff > p.cfg.DialBackoffMax {
		backoff = p.cfg.DialBackoffMax
	}
	// +-20% jitter, so pools that failed together do not retry together.
	backoff += time.Duration(p.int64N(int64(backoff)/5+1)*2 - int64(backoff)/5)
	r.blockedUntil = now.Add(backoff)
	p.stats.blockedPeriods++
	p.wakeNoLaterThan(r.blockedUntil)
}

// holdFailingFill stops MinSize fills after failed dials or mints when
// there is no blocking period (DialBackoff off): acquires dial at once, each
// failing its caller, but a fill has no caller, and without this it dialed
// again at once after every failure, for ever, logging in against a
// refusing server as fast as it answered. The fill asks again after
// fillRetryAfter, as one refused at the global cap does.
func (p *Pool) holdFailingFill(now time.Time) {
	if p.cfg.MinSize == 0 || p.fillHeld {
		return
	}
	p.fillHeld = true
	p.rare.fillHeldFailing = true
	p.rare.fillRetryAt = now.Add(fillRetryAfter)
	p.wakeNoLaterThan(p.rare.fillRetryAt)
}

// endBlocking ends a failure streak and its blocking period, and a fill hold
// that stands in for the period (holdFailingFill): what ends the one (a
// dial that succeeds, a new credential after failed mints) ends the other,
// or a pool with no blocking period would refill up to fillRetryAfter later
// than one with. A hold made at the global cap is not the failures' and
// stays.
func (p *Pool) endBlocking() {
	if r := p.rare; r != nil {
		r.dialFailures = 0
		r.blockedUntil = time.Time{}
		r.lastDialErr = nil
		if r.fillHeldFailing {
			r.fillHeldFailing = false
			p.fillHeld = false
		}
	}
}

// blocked reports whether the pool is inside a blocking period.
func (p *Pool) blocked(now time.Time) bool { return p.rare != nil && now.Before(p.rare.blockedUntil) }

// failBlocked fails, youngest first, the waiters that nothing can serve
// during a blocking period: not a dial in flight, not a leased connection
// coming back. They get the last dial error at once instead of a timeout.
func (p *Pool) failBlocked(now time.Time) {
	if !p.blocked(now) || p.lastDialErr() == nil {
		return
	}
	for p.waiters.unserved() > p.coming()+p.busy {
		w := p.waiters.lastUnserved()
		p.waiters.remove(w)
		p.stats.blockedFails++
		p.emit(Effect{Kind: EffFail, ReplyTo: w.replyTo, AcquireID: w.id, Err: &BlockedError{Err: p.rare.lastDialErr, Until: p.rare.blockedUntil}})
	}
}
