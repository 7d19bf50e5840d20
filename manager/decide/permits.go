package decide

import "slices"

// permitBook is the manager's account of the global cap (Config.MaxTotal):
// how many connections are open, dialing or closing across all pools (a pool
// returns a permit once its connection's close has finished), which pool holds
// how many, and the pools waiting for one, served first come, first served so
// that no identity starves. Where a permit is stolen: steal.go.
type permitBook struct {
	limit int
	inUse int
	queue []PoolID
	held  map[PoolID]int
	// tried holds pools that refused a steal since the last grant, so the
	// next steal asks someone else.
	tried map[PoolID]bool
	// unsettled counts, per pool asked, the steals sent and not yet
	// settled (see steal.go); stealsOut is their sum.
	unsettled map[PoolID]int
	stealsOut int
}

func newPermitBook(limit int) *permitBook {
	return &permitBook{limit: limit, held: make(map[PoolID]int), tried: make(map[PoolID]bool), unsettled: make(map[PoolID]int)}
}

// permitRequest grants a permit, or queues the request and asks another pool
// to give one up. A fill request (only for a pool's MinSize) is granted only
// if there is room now; otherwise it is refused, never queued and never paid
// for by another pool, which would then refill in turn: with MinSize under a
// cap too small for every pool's minimum, that stealing went on for ever.
func (m *Manager) permitRequest(in PermitRequest) {
	b := m.book
	if b == nil {
		return
	}
	if m.closed {
		m.emit(Effect{Kind: EffDenyPermit, Pool: in.Pool})
		return
	}
	if b.inUse < b.limit && len(b.queue) == 0 {
		m.grant(in.Pool)
		return
	}
	if in.Fill {
		m.emit(Effect{Kind: EffRefuseFill, Pool: in.Pool})
		return
	}
	b.queue = append(b.queue, in.Pool)
	// The steals out never outnumber the requests queued before this one
	// (balanceSteals): it needs a steal of its own.
	m.steal(in.Pool)
}

func (m *Manager) grant(id PoolID) {
	b := m.book
	b.inUse++
	b.held[id]++
	clear(b.tried)
	m.emit(Effect{Kind: EffGrantPermit, Pool: id})
}

// permitReturn takes a permit back and serves the queue with the room.
func (m *Manager) permitReturn(in PermitReturn) {
	b := m.book
	if b == nil {
		return
	}
	b.inUse--
	if b.held[in.Pool]--; b.held[in.Pool] <= 0 {
		delete(b.held, in.Pool)
	}
	m.settleSteal(in.Pool)
	for b.inUse < b.limit && len(b.queue) > 0 {
		next := b.queue[0]
		b.queue = b.queue[1:]
		m.grant(next)
	}
	m.balanceSteals()
}

// withdrawPermit takes the youngest of the pool's queued requests off the
// queue, if it has one left (its waiter is gone), and tells it so. A pool
// whose requests were all answered before (the grant crossed the
// withdrawal) hears Removed false. With fewer requests queued, steals asked
// for on their behalf may now free permits nobody waits for: those not yet
// settled are called off (see balanceSteals).
func (m *Manager) withdrawPermit(in WithdrawPermit) {
	b := m.book
	if b == nil {
		m.emit(Effect{Kind: EffPermitWithdrawn, Pool: in.Pool})
		return
	}
	i := len(b.queue) - 1
	for i >= 0 && b.queue[i] != in.Pool {
		i--
	}
	if i < 0 {
		m.emit(Effect{Kind: EffPermitWithdrawn, Pool: in.Pool})
		return
	}
	b.queue = slices.Delete(b.queue, i, i+1)
	m.emit(Effect{Kind: EffPermitWithdrawn, Pool: in.Pool, Removed: true})
	m.balanceSteals()
}

// denyAll answers every queued request for good, when the manager closes.
func (m *Manager) denyAll() {
	for _, id := range m.book.queue {
		m.emit(Effect{Kind: EffDenyPermit, Pool: id})
	}
	m.book.queue = nil
}
