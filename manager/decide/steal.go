package decide

// Where a permit is stolen. At MaxTotal, a pool whose request queues gets
// its permit from a connection another pool gives up: the manager asks the
// pool holding the most permits to close one, idle now or the next
// released. Not the pool waiting, nor those that just refused. Taking
// from the largest keeps small identities from being squeezed out. The
// manager does not know which pools hold idle connections: the richest is
// asked even when all its connections are leased and a poorer pool has one
// idle. A pool with nothing to give answers StealRefused, and the next
// richest is asked. MinSize fills never steal (see permitRequest).
//
// A request may be withdrawn while its steal is out (its waiter timed out,
// say), or served by a permit that paid no steal (another pool's own
// close): the steal would then close a connection for nobody. So the book
// counts the steals sent to each pool and not yet settled, and when a
// withdrawal or a permit back leaves more of them than requests queued, it
// calls one off (EffCancelSteal). A steal is settled by a StealRefused from
// the pool it went to, or by any PermitReturn from it, whatever freed that
// permit: any close the pool begins pays its debt (actors.Pool.closeConn),
// as does a permit it hands back unused (actors.Pool.returnUnusedPermits),
// and the book cannot tell a stolen close from another. This count decides
// only whether to send a cancel and whether a request queued needs a steal
// of its own (one is asked only while fewer are out than requests queued);
// the permits in use (inUse) never depend on it, so an error in it can only
// cost efficiency, never the cap: too low, a steal asked that was not
// needed, a connection closed for nobody; too high, a queued request waits
// for a steal that is not coming, until its waiter gives up and the
// withdrawal calls the surplus off (settling the count).

// steal asks the richest other pool for a connection on behalf of waiting.
func (m *Manager) steal(waiting PoolID) {
	if victim, ok := m.richestOtherThan(waiting); ok {
		m.book.unsettled[victim]++
		m.book.stealsOut++
		m.emit(Effect{Kind: EffSteal, Pool: victim})
	}
}

// settleSteal counts off one steal sent to id, if any is out.
func (m *Manager) settleSteal(id PoolID) {
	b := m.book
	if n := b.unsettled[id]; n > 0 {
		b.stealsOut--
		if n == 1 {
			delete(b.unsettled, id)
		} else {
			b.unsettled[id] = n - 1
		}
	}
}

// balanceSteals keeps the steals out fitting the requests queued, once the
// queue has changed (a permit back served it, a request was withdrawn):
//   - none beyond the requests queued: a permit that paid no steal (a
//     pool's own close, a dial that failed) served a request a steal was
//     out for, or a request was withdrawn; each would close a connection
//     for nobody;
//   - one for the request left without (no pool to ask when it queued):
//     ask the richest other pool now, or room freed by the pools that hold
//     it would never come back to the queue. Only then: one more would
//     close a connection for nobody.
func (m *Manager) balanceSteals() {
	b := m.book
	switch {
	case b.stealsOut > len(b.queue):
		m.cancelExcessSteals()
	case b.stealsOut < len(b.queue):
		m.steal(b.queue[0])
	}
}

// cancelExcessSteals calls off the steals beyond the requests queued, from
// the pools owing the most (the oldest on a tie). A pool that has already
// paid (its permit is on its way back) ignores the cancel.
func (m *Manager) cancelExcessSteals() {
	b := m.book
	for b.stealsOut > len(b.queue) {
		var victim PoolID
		most := 0
		for id, n := range b.unsettled {
			if n > most || n == most && id < victim {
				victim, most = id, n
			}
		}
		if most == 0 {
			b.stealsOut = 0 // unreachable: stealsOut is their sum
			return
		}
		m.settleSteal(victim)
		m.emit(Effect{Kind: EffCancelSteal, Pool: victim})
	}
}

// stealRefused: that pool had nothing to give; ask another for the oldest
// request, unless the steals still out cover every request queued (the
// refused one was called off meanwhile, its request withdrawn).
func (m *Manager) stealRefused(in StealRefused) {
	b := m.book
	if b == nil {
		return
	}
	b.tried[in.Pool] = true
	m.settleSteal(in.Pool)
	if b.stealsOut < len(b.queue) {
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
