package actors

import "time"

// validateDone records a finished health check. A healthy connection goes to
// the waiter it was checked for (or back to idle); a dead one is closed and
// that waiter is served by another connection or a new dial, silently.
func (p *Pool) validateDone(now time.Time, id ConnID, ok bool) {
	c := p.connOf(id)
	if c == nil || c.state != connChecking || c.check != checkHealth {
		return
	}
	w := c.waiter
	if w != nil {
		p.waiters.unbind(w)
	}
	switch {
	case p.closing:
		p.closeConn(c, ReasonPoolClosed)
	case c.evicted:
		p.closeConn(c, ReasonEvicted)
	case !ok:
		p.closeConn(c, ReasonFailedHealthCheck)
	default:
		// The check took time: offer judges c's token again.
		c.idleSince, c.suspect = now, false
		p.offer(now, w, c)
	}
	p.serve(now)
	p.maybeDrained()
}
