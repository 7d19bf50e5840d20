package decide

import "github.com/idpool/idpool/internal/shrink"

// The retirement agreement. A pool idle for RetireAfter closes its
// connections and, once every close has finished (actors/retire.go), asks
// to retire, saying how many acquires it has received (Seen). Callers send acquires to
// it directly over its route, each counting itself in the route's sent
// first, then reading whether the route is closed (sequentially consistent
// atomics, in the driver). The manager closes the route, then reads sent
// (EffCloseRoute, answered by RouteClosed):
//
//   - sent == seen: every acquire sent has reached the pool, and any caller
//     from now on sees the route closed and comes to the manager, which
//     spawns a fresh pool. The route is withdrawn and the pool closes.
//   - otherwise an acquire is on its way to the pool: the route reopens and
//     the pool stays (it will ask again once idle).
//
// sim/virtual checks this protocol against every interleaving of a caller's
// steps with the manager's (TestHandshakeEveryInterleaving).

// retireRequest starts the agreement for a live pool.
func (m *Manager) retireRequest(in RetireRequest) {
	p := m.byID[in.Pool]
	if m.closed || p == nil || p.state != live {
		return
	}
	p.state = retiring
	p.retireSeen = in.Seen
	m.emit(Effect{Kind: EffCloseRoute, Pool: p.id})
}

// routeClosed ends the agreement: retire if sent equals seen.
func (m *Manager) routeClosed(in RouteClosed) {
	p := m.byID[in.Pool]
	if p == nil || p.state != retiring {
		return
	}
	if in.Sent != p.retireSeen {
		p.state = live // an acquire is on its way: the pool stays
		m.emit(Effect{Kind: EffReopenRoute, Pool: p.id})
		return
	}
	delete(m.pools, p.disc)
	m.pools = shrink.Map(m.pools, &m.poolDeletes)
	p.state = draining
	p.retired = true
	m.draining++
	m.retired++
	m.emit(Effect{Kind: EffWithdraw, Pool: p.id, Disc: p.disc})
	m.emit(Effect{Kind: EffClosePool, Pool: p.id, Retire: true})
}

// drained forgets a pool that has closed everything, and stops it unless an
// acquire may still reach it: a pool closed with the manager may still be
// sent one by a caller that read its route just before it closed; while sent
// says so it is left alive (an idle actor holds no goroutine) to answer it
// with ErrClosed. A retired pool is always stopped: its agreement proved
// that every acquire sent over its route had reached it, and a caller that
// counts itself in sent later sees the route closed and backs off, so sent
// above seen here is only such a caller passing by (which kept the pool
// alive for ever).
func (m *Manager) drained(in Drained) {
	retired := false
	if p := m.byID[in.Pool]; p != nil {
		retired = p.retired
		delete(m.byID, in.Pool)
		m.byID = shrink.Map(m.byID, &m.idDeletes)
		if p.state == draining {
			m.draining--
		}
		if p.state != draining { // drained without being told to: forget it
			delete(m.pools, p.disc)
		}
	}
	if m.book != nil {
		// A drained pool owes nothing: its closes paid.
		for m.book.unsettled[in.Pool] > 0 {
			m.settleSteal(in.Pool)
		}
	}
	if retired || in.Sent == in.Seen {
		m.emit(Effect{Kind: EffStop, Pool: in.Pool})
	}
	m.maybeClosed()
}
