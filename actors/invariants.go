package actors

import (
	"errors"
	"fmt"
)

// CheckInvariants verifies the state machine's internal consistency. Tests
// and the simulation call it after every step; it returns every violation.
func (p *Pool) CheckInvariants() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if p.size() > p.cfg.MaxSize {
		bad("over_max: %d open + %d dialing + %d awaiting token + %d awaiting permit + %d closing > max %d",
			len(p.conns), p.dialing, p.awaitingToken, p.awaitingPermit, p.closesInFlight, p.cfg.MaxSize)
	}
	// A debt is paid with a connection: one open or on its way. A debt
	// beyond them is one the manager counts paid (a permit came back
	// without a close) and would close a later connection for nobody.
	if p.owed < 0 || p.owed > len(p.conns)+p.dialing+p.awaitingToken {
		bad("owed %d connections, with %d open, %d dialing and %d awaiting a token to pay them", p.owed, len(p.conns), p.dialing, p.awaitingToken)
	}
	if p.dialing < 0 || p.awaitingToken < 0 || p.busy < 0 || p.closesInFlight < 0 {
		bad("negative count: dialing %d, awaiting %d, busy %d, closes %d", p.dialing, p.awaitingToken, p.busy, p.closesInFlight)
	}
	busy, idle, checking := 0, 0, 0
	for i, c := range p.conns {
		if i > 0 && p.conns[i-1].id >= c.id {
			bad("conns out of order: %d before %d", p.conns[i-1].id, c.id)
		}
		if c.state != connBusy && c.holder != nil {
			bad("conn %d keeps a holder while not leased", c.id)
		}
		switch c.state {
		case connBusy:
			busy++
		case connIdle:
			idle++
		case connChecking:
			checking++
			if c.waiter != nil && (c.waiter.done || c.waiter.serving != c) {
				bad("conn %d checked for a waiter that is gone or served elsewhere", c.id)
			}
		}
	}
	if busy != p.busy {
		bad("double_lease or lost lease: %d busy conns, counter says %d", busy, p.busy)
	}
	seen := make(map[ConnID]bool, len(p.idle))
	for _, c := range p.idle {
		if seen[c.id] {
			bad("conn %d twice on the idle stack", c.id)
		}
		seen[c.id] = true
		if p.connOf(c.id) != c || c.state != connIdle {
			bad("idle stack holds conn %d in state %d (known: %v)", c.id, c.state, p.connOf(c.id) == c)
		}
	}
	if idle != len(p.idle) {
		bad("%d idle conns but %d on the stack", idle, len(p.idle))
	}
	if !p.closing && p.waiters.unserved() > 0 {
		if len(p.idle) > 0 {
			bad("%d waiters unserved while %d conns sit idle", p.waiters.unserved(), len(p.idle))
		}
		switch {
		case p.dialFailures() >= blockAfter && p.cfg.DialBackoff > 0:
			// A failure streak: the pool may hold back dials, but never
			// keeps a waiter that nothing is coming for.
			if p.waiters.unserved() > p.coming()+p.busy && p.size() < p.cfg.MaxSize {
				bad("%d waiters unserved in a blocking period, but only %d dials and %d leases coming", p.waiters.unserved(), p.coming(), p.busy)
			}
		case p.waiters.unserved() > p.coming() && p.size() < p.cfg.MaxSize:
			bad("%d waiters unserved, %d dials coming, and room to dial", p.waiters.unserved(), p.coming())
		}
	}
	if p.closing && p.waiters.live > 0 {
		bad("%d waiters left in a closed pool", p.waiters.live)
	}
	live, serving := 0, 0
	p.waiters.each(func(w *waiter) bool {
		live++
		if w.serving != nil {
			serving++
			if w.serving.waiter != w {
				bad("waiter %d bound to conn %d which is not checked for it", w.id, w.serving.id)
			}
		}
		return true
	})
	if live != p.waiters.live || serving != p.waiters.serving || p.waiters.byID != nil && len(p.waiters.byID) != live {
		bad("waiter counts: %d live (counter %d, map %d), %d serving (counter %d)", live, p.waiters.live, len(p.waiters.byID), serving, p.waiters.serving)
	}
	// A waiter record is in the queue or free to reuse, never both, and
	// in each at most once: a record reused while queued would answer
	// two acquires.
	records := make(map[*waiter]bool, len(p.waiters.items)+len(p.waiters.free))
	for _, w := range p.waiters.items[p.waiters.head:] {
		if records[w] {
			bad("waiter %d queued twice", w.id)
		}
		records[w] = true
	}
	for _, w := range p.waiters.free {
		if records[w] {
			bad("waiter record %d both queued and free", w.id)
		}
		records[w] = true
	}
	if p.busy == 0 && p.waiters.live == 0 && p.waiters.holdsMemory() {
		bad("an idle pool keeps its wait queue's memory")
	}
	return errors.Join(errs...)
}
