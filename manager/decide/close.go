package decide

import (
	"cmp"
	"slices"
)

// close closes every live pool: its route is withdrawn (and stays closed
// for callers that read it just before), and it is told to close. Permit
// requests still queued are denied.
func (m *Manager) close() {
	if m.closed {
		return
	}
	m.closed = true
	for _, p := range m.sorted(func(p *pool) bool { return p.state == live }) {
		delete(m.pools, p.disc)
		p.state = draining
		m.draining++
		m.emit(Effect{Kind: EffWithdraw, Pool: p.id, Disc: p.disc})
		m.emit(Effect{Kind: EffClosePool, Pool: p.id})
	}
	if m.book != nil {
		m.denyAll()
	}
	m.maybeClosed()
}

// forceClose asks every pool told to close to close its leased connections.
func (m *Manager) forceClose() {
	for _, p := range m.sorted(func(p *pool) bool { return p.state == draining }) {
		m.emit(Effect{Kind: EffForceClose, Pool: p.id})
	}
}

// maybeClosed emits EffClosed once, when the manager is closed and every
// pool has drained.
func (m *Manager) maybeClosed() {
	if m.closed && m.draining == 0 && !m.closedSent {
		m.closedSent = true
		m.emit(Effect{Kind: EffClosed})
	}
}

// sorted returns the pools that match, oldest first, so that a run's
// effects do not depend on map order.
func (m *Manager) sorted(match func(*pool) bool) []*pool {
	var ps []*pool
	for _, p := range m.byID {
		if match(p) {
			ps = append(ps, p)
		}
	}
	slices.SortFunc(ps, func(a, b *pool) int { return cmp.Compare(a.id, b.id) })
	return ps
}
