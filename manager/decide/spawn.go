package decide

// acquire routes an acquire that came to the manager: to the identity's live
// pool, or to a new one, spawned and then published. Spawn comes before
// Publish in the effect list, so the pool has its Start before any caller
// can send to it over the route.
func (m *Manager) acquire(in Acquire) {
	if m.closed {
		m.emit(Effect{Kind: EffFailClosed})
		return
	}
	p := m.pools[in.Disc]
	if p == nil {
		m.nextID++
		p = &pool{id: m.nextID, disc: in.Disc}
		cfg := m.poolConfig(in.Disc, in.UsesToken)
		m.pools[in.Disc] = p
		m.byID[p.id] = p
		m.created++
		m.emit(Effect{Kind: EffSpawn, Pool: p.id, Disc: in.Disc, Config: cfg})
		m.emit(Effect{Kind: EffPublish, Pool: p.id, Disc: in.Disc})
	}
	m.emit(Effect{Kind: EffForward, Pool: p.id})
}
