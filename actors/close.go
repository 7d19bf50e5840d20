package actors

import (
	"cmp"
	"slices"
	"time"
)

// close shuts the pool: queued waiters fail with ErrClosed, idle connections
// are closed now, busy ones when released, dialing ones when their dial ends.
// EffDrained follows once everything is closed. Close is idempotent.
func (p *Pool) close(now time.Time) {
	if p.closing {
		return
	}
	p.closing = true
	p.wakeAt = time.Time{}
	for w := p.waiters.firstLive(); w != nil; w = p.waiters.firstLive() {
		p.waiters.remove(w)
		p.emit(Effect{Kind: EffFail, ReplyTo: w.replyTo, AcquireID: w.id, Err: ErrClosed})
	}
	for _, c := range p.idle {
		p.closeConn(c, ReasonPoolClosed)
	}
	clear(p.idle)
	p.idle = p.idle[:0]
	p.returnUnusedPermits(p.awaitingToken)
	p.awaitingToken = 0 // the mint in flight, if any, is ignored when it lands
	p.maybeDrained()
}

// forceClose closes the connections still leased out after Close, for a
// shutdown that will not wait any longer. Their holders' later Release is
// ignored. It does nothing before Close.
func (p *Pool) forceClose(now time.Time) {
	if !p.closing {
		return
	}
	var leased []*conn
	for _, c := range p.conns {
		if c.state == connBusy {
			leased = append(leased, c)
		}
	}
	slices.SortFunc(leased, func(a, b *conn) int { return cmp.Compare(a.id, b.id) })
	for _, c := range leased {
		p.busy--
		p.closeConn(c, ReasonForced)
		c.holder = nil
	}
	p.maybeDrained()
}

// Closing reports whether Close has been called.
func (p *Pool) Closing() bool { return p.closing }

// Drained reports whether a closing pool has closed every connection.
func (p *Pool) Drained() bool { return p.drained }

func (p *Pool) maybeDrained() {
	if !p.closing || p.drained {
		return
	}
	if len(p.conns) == 0 && p.dialing == 0 && p.closesInFlight == 0 && !p.minting && p.awaitingPermit == 0 {
		p.drained = true
		p.emit(Effect{Kind: EffDrained})
	}
}
