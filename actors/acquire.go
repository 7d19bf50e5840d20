package actors

import (
	"time"

	"github.com/idpool/idpool/messages"
)

// acquire asks for a connection for the caller identified by id; replyTo is
// handed back untouched in the effect that answers it. An idle connection
// that needs no check is granted at once; otherwise the caller queues (FIFO)
// and the pool dials if it has room. A queued caller still waiting after
// timeout (if positive) fails with a *TimeoutError; a caller bounding the
// wait itself passes zero and sends Cancel when it gives up.
func (p *Pool) acquire(now time.Time, id uint64, replyTo chan messages.Reply, timeout time.Duration, holder messages.DirectGrant) {
	p.noteAcquire(now)
	// Make sure a Tick comes to consider retirement, whatever path this
	// acquire takes (a refused retirement is asked again this way).
	if p.retireWakeDue(now) {
		p.wakeNoLaterThan(now.Add(p.cfg.RetireAfter))
	}
	if p.closing {
		p.emit(Effect{Kind: EffFail, ReplyTo: replyTo, AcquireID: id, Err: ErrClosed})
		return
	}
	if p.waiters.live == 0 {
		if c := p.popUsable(now); c != nil {
			if p.checkFor(now, c) == checkNone {
				p.grant(nil, id, replyTo, 0, c, holder)
				return
			}
			p.pushIdle(c) // serve() below starts its check on the waiter's behalf
		}
	}
	if p.cfg.MaxWaiters > 0 && p.waiters.live >= p.cfg.MaxWaiters {
		p.stats.exhausted++
		p.emit(Effect{Kind: EffFail, ReplyTo: replyTo, AcquireID: id, Err: ErrPoolExhausted})
		p.serve(now) // a candidate pushed back above must not sit idle
		return
	}
	var deadline time.Time
	if timeout > 0 {
		deadline = now.Add(timeout)
		p.wakeNoLaterThan(deadline)
	}
	p.waiters.push(id, replyTo, now, deadline, holder)
	p.serve(now)
}

// noteAcquire counts an acquire as activity: it ends a quiet spell that
// would retire the pool.
func (p *Pool) noteAcquire(now time.Time) {
	p.seen++
	p.stats.acquires++
	p.lastActivity = now
	p.retireAsked, p.retireDue = false, false
}

// retireWakeDue: the pool retires after RetireAfter without an acquire, and
// no wake is set early enough to see that spell end. A wake already due by
// then covers it; testing that with Sub (one subtraction of monotonic
// readings) spares the hit path a time.Time.Add.
func (p *Pool) retireWakeDue(now time.Time) bool {
	return p.cfg.RetireAfter > 0 && (p.wakeAt.IsZero() || p.wakeAt.Sub(now) > p.cfg.RetireAfter)
}

// cancel withdraws a queued acquire whose caller gave up. If it was already
// answered, Cancel does nothing: the caller will read that answer instead.
func (p *Pool) cancel(now time.Time, id uint64, timeout bool) {
	w := p.waiters.get(id)
	if w == nil {
		return
	}
	// A connection being checked for w stays in its check; when the check
	// ends it serves someone else or goes idle.
	p.waiters.remove(w)
	if timeout {
		p.stats.timeouts++
	} else {
		p.stats.cancels++
	}
	// The timeout error is made here, where the pool can say what the
	// acquire waited on (a dial or a close that hangs, a permit).
	p.emit(Effect{Kind: EffCancelled, ReplyTo: w.replyTo, AcquireID: id, Waiters: p.waiters.live,
		Err: &TimeoutError{Key: p.cfg.Key, MaxSize: p.cfg.MaxSize, Waiters: p.waiters.live, Canceled: !timeout, Pool: p.waitedOn()}})
}

// waitedOn is what the pool is doing, for the error of an acquire that
// leaves its queue unserved.
func (p *Pool) waitedOn() *PoolWork {
	return &PoolWork{Busy: p.busy, Dialing: p.dialing + p.awaitingToken, Minting: p.minting,
		AwaitingPermit: p.awaitingPermit, Closing: p.closesInFlight, Checking: p.checkingCount()}
}
