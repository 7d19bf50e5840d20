package decide

// Where a permit is stolen. At MaxTotal, a pool whose request queues gets
// its permit from a connection another pool gives up: the manager asks the
// pool holding the most permits (other than the one waiting, and other than
// those that just refused) to close one, idle now or the next released.
// Taking from the largest keeps small identities from being squeezed out.
// A pool with nothing to give answers StealRefused, and the next richest is
// asked. MinSize fills never steal (see permitRequest).

// steal asks the richest other pool for a connection on behalf of waiting.
func (m *Manager) steal(waiting PoolID) {
	if victim, ok := m.richestOtherThan(waiting); ok {
		m.emit(Effect{Kind: EffSteal, Pool: victim})
	}
}

// stealRefused: that pool had nothing to give; ask another for the oldest
// request.
func (m *Manager) stealRefused(in StealRefused) {
	b := m.book
	if b == nil {
		return
	}
	b.tried[in.Pool] = true
	if len(b.queue) > 0 {
		m.steal(b.queue[0])
	}
}

// richestOtherThan picks the pool holding the most permits, the oldest on a
// tie, that is not waiting and has not refused since the last grant.
func (m *Manager) richestOtherThan(waiting PoolID) (PoolID, bool) {
	b := m.book
	var best PoolID
	bestN := 0
	for id, n := range b.held {
		if id != waiting && !b.tried[id] && (n > bestN || n == bestN && id < best) {
			best, bestN = id, n
		}
	}
	return best, bestN > 0
}
