package actors

import "time"

// permitGranted answers an EffRequestPermit: the reservation may dial, if it
// is still wanted; otherwise the permit goes straight back.
func (p *Pool) permitGranted(now time.Time) {
	p.permitAnswered()
	wanted := p.waiters.unserved() > p.coming() || p.size() < p.cfg.MinSize
	if p.closing || !wanted {
		p.returnUnusedPermits(1)
		p.dropSpareTokens()
		p.maybeDrained()
		return
	}
	p.startPermittedDial(now)
}

// fillRetryAfter is how long a pool whose MinSize fill was refused at the
// global cap waits before asking again. MinSize yields to MaxTotal: a refused
// fill takes no connection from another pool (which would refill in turn,
// for ever), it only asks again now and then, and opens only if there is
// room.
const fillRetryAfter = 10 * time.Second

// permitRefused answers a fill request (EffRequestPermit with Fill) made at
// the global cap: the reservation is dropped and no fill is asked for again
// until fillRetryAfter has passed. Waiters it was covering get a dial of
// their own.
func (p *Pool) permitRefused(now time.Time) {
	p.permitAnswered()
	p.fillHeld = true
	p.rareMut().fillHeldFailing = false // the cap's hold now: a success does not end it
	p.rare.fillRetryAt = now.Add(fillRetryAfter)
	p.wakeNoLaterThan(p.rare.fillRetryAt)
	p.serve(now)
	p.maybeDrained()
}

// permitDenied answers an EffRequestPermit that the manager will never grant
// (it is closing): the reservation is dropped.
func (p *Pool) permitDenied(now time.Time) {
	p.permitAnswered()
	p.failUncovered(1, ErrClosed)
	p.maybeDrained()
}

// stealIdle asks the pool to give up a connection for another pool under the
// global cap: its oldest idle one now, or else the next one released. A pool
// with nothing to give (no connection it has not already promised) refuses
// with EffStealRefused, so the manager can ask another. Which pool is asked
// is decided in manager/decide/steal.go.
func (p *Pool) stealIdle(now time.Time) {
	if len(p.idle) == 0 {
		if p.owed >= len(p.conns)+p.dialing+p.awaitingToken {
			p.emit(Effect{Kind: EffStealRefused})
			return
		}
		p.owed++
		return
	}
	p.owed++
	oldest := p.idle[0]
	rest := copy(p.idle, p.idle[1:])
	p.idle[rest] = nil
	p.idle = p.idle[:rest]
	p.closeConn(oldest, ReasonStolen)
	p.maybeDrained()
}

// permitAnswered counts off the request a grant, refusal or denial answers.
// The answers carry no request id, so which one it answers is known only by
// count: while some requests are not being withdrawn, it answers one of
// those (counts are all that matter). When every request still awaiting an
// answer is being withdrawn, it answers one of them, and that withdrawal
// will come back Removed false (the manager answers in order, so it had
// nothing left to remove): it moves from withdrawing to withdrawnLate.
func (p *Pool) permitAnswered() {
	if r := p.rare; r != nil && r.withdrawing > 0 && r.withdrawing >= p.awaitingPermit {
		r.withdrawing--
		r.withdrawnLate++
	}
	p.awaitingPermit--
	p.noneAwaiting()
}

// noneAwaiting notes that no request made for a waiter is outstanding once
// no request is.
func (p *Pool) noneAwaiting() {
	if p.awaitingPermit == 0 && p.rare != nil {
		p.rare.waiterAsked = false
	}
}

// withdrawExcess asks the manager to withdraw the permit requests no waiter
// and no MinSize need any more: the waiters they were made for timed out,
// were cancelled or failed, or were served by a connection that came back.
// A request left queued would make the manager take a connection from
// another pool (a steal) for a permit this pool would only hand back. Each
// withdrawal stays in awaitingPermit, so counted against MaxSize, until its
// answer (PermitWithdrawn); it no longer counts as coming. Step runs it
// after every input of a pool under a global cap; gaveUp counts the waiters
// that input timed out or cancelled, and as many withdrawals say so.
//
// A request its waiter no longer needs is not kept queued for MinSize
// alone either: queued, it takes another pool's connection, while MinSize
// yields to MaxTotal (a fill is refused at the cap, never queued, or each
// pool below MinSize would take from the next, which refills in turn). Those
// that became so in this Step (waiterNeedBefore is the waiters' need when
// it began) are withdrawn if queued (Fill: a request granted meanwhile, or
// waiting at the fleet gate, stays); serve then asks for a fill, refused at
// the cap. Only those of this Step, and only while a request made for a
// waiter may be outstanding (waiterAsked): a fill is MinSize's from the
// start and is never queued, and one such withdrawal answered Removed false
// must not be asked again.
func (p *Pool) withdrawExcess(gaveUp, waiterNeedBefore int) {
	if p.closing || !p.cfg.NeedsPermit || p.awaitingPermit == 0 {
		return
	}
	pending := p.awaitingPermit - p.withdrawing()
	if pending == 0 {
		return
	}
	// What the requests still serve: waiters no dial covers, or MinSize
	// against every slot but the permit requests themselves.
	waiterNeed := p.waiterNeed()
	need := max(waiterNeed, p.cfg.MinSize-(p.size()-p.awaitingPermit))
	excess := max(pending-need, 0)
	forMin := 0
	if p.rare != nil && p.rare.waiterAsked {
		forMin = min(pending-excess-waiterNeed, waiterNeedBefore-waiterNeed)
	}
	if n := excess + max(forMin, 0); n > 0 {
		p.rareMut().withdrawing += n
		for i := range n {
			p.emit(Effect{Kind: EffWithdrawPermit, GaveUp: i < gaveUp, Fill: i >= excess})
		}
	}
}

// waiterNeed counts the waiters no dial covers: what permit requests serve
// besides MinSize.
func (p *Pool) waiterNeed() int {
	return max(p.waiters.unserved()-p.dialing-p.awaitingToken, 0)
}

// permitWithdrawn answers an EffWithdrawPermit. Removed: the manager took
// one of the pool's queued requests off its queue, and no answer will come
// for it. Otherwise it had none left queued: the request was answered
// before (a grant that crossed the withdrawal, handed back by
// permitGranted if unwanted), or it is a fill answered at once. Either way
// the room may serve a waiter that came meanwhile.
func (p *Pool) permitWithdrawn(now time.Time, removed bool) {
	r := p.rareMut()
	switch {
	case removed:
		if r.withdrawing > 0 {
			r.withdrawing--
		}
		if p.awaitingPermit > 0 {
			p.awaitingPermit--
		}
		p.noneAwaiting()
	case r.withdrawnLate > 0:
		r.withdrawnLate--
	case r.withdrawing > 0:
		r.withdrawing--
	}
	p.serve(now)
	p.maybeDrained()
}

// stealCancelled: the manager no longer needs a connection it asked for
// with StealIdle (the request it was for was withdrawn). A debt not yet
// paid is forgiven; one already paid (an idle connection closed at once)
// is nothing to cancel.
func (p *Pool) stealCancelled() {
	if p.owed > 0 {
		p.owed--
	}
}
