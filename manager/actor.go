package manager

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/messages"
	"github.com/idpool/idpool/tokens"
)

// managerActor routes acquires to pool actors by key, spawning them on first
// use, and runs the retirement handshake and Close. It never blocks.
type managerActor struct {
	cfg   Config // resolved
	seed  uint64
	pools map[string]*poolEntry // by discriminator
	// draining holds pools that were told to retire or close, by PID id,
	// until they report PoolDrained.
	draining  map[string]*poolEntry
	closed    bool
	closeDone chan struct{}
	created   uint64
	retired   uint64
	gone      messages.PoolStats
	// permits is nil unless Config.MaxTotal is set.
	permits *permitBook
	// poolProps spawns every pool; each learns its key from an Init.
	poolProps *actor.Props
	// routes publishes the pools to callers, for hits that skip this actor.
	routes *routeTable
	// poolDeletes and drainDeletes count deletions since each map was last
	// rebuilt (see shrunk).
	poolDeletes, drainDeletes int
}

// shrunk returns mp, or a copy sized to its contents once many entries have
// been deleted: a Go map never gives back the room it grew to, so a manager
// that once had 10,000 pools would keep their buckets for good.
func shrunk[K comparable, V any](mp map[K]V, deletes *int) map[K]V {
	*deletes++
	if *deletes < 1024 || *deletes < 2*len(mp) {
		return mp
	}
	*deletes = 0
	next := make(map[K]V, len(mp))
	for k, v := range mp {
		next[k] = v
	}
	return next
}

type poolEntry struct {
	pid *actor.PID
	// route is how callers reach the pool directly (published by address);
	// its sent count serves the retirement handshake.
	route route
}

func newManagerActor(cfg Config, seed uint64, routes *routeTable) *managerActor {
	var permits *permitBook
	if cfg.MaxTotal > 0 {
		permits = newPermitBook(cfg.MaxTotal)
	}
	return &managerActor{
		poolProps: newPoolProps(cfg),
		routes:    routes,
		permits:   permits,
		cfg:       cfg,
		seed:      seed,
		pools:     make(map[string]*poolEntry),
		draining:  make(map[string]*poolEntry),
		gone:      messages.PoolStats{Closes: map[string]uint64{}},
	}
}

func (m *managerActor) Receive(c actor.Context) {
	defer m.recoverInternal()
	switch msg := c.Message().(type) {
	case *messages.Acquire:
		m.acquire(c, msg)
	case *messages.Cancel:
		if e := m.pools[msg.Discriminator]; e != nil {
			c.Send(e.pid, msg)
		}
	case *messages.PermitRequest:
		m.permits.request(c, msg.Pool, msg.Fill)
	case *messages.PermitReturn:
		m.permits.release(c, msg.Pool)
	case *messages.StealRefused:
		m.permits.refused(c, msg.Pool)
	case *messages.RetireRequest:
		m.retire(c, msg)
	case *messages.PoolDrained:
		m.drained(c, msg)
	case *messages.StatsQuery:
		m.stats(c, msg)
	case *messages.CloseManager:
		m.close(c, msg)
	case *messages.Evict:
		m.evict(c, msg)
	case *messages.Reset:
		m.reset(c, msg)
	case *messages.ForceClose:
		for _, e := range m.draining {
			c.Send(e.pid, msg)
		}
	}
}

func (m *managerActor) recoverInternal() {
	if r := recover(); r != nil && m.cfg.Logger != nil {
		m.cfg.Logger.Error("idpool: internal error in manager actor", "panic", r)
	}
}

func (m *managerActor) acquire(c actor.Context, msg *messages.Acquire) {
	if m.closed {
		msg.Reply <- messages.Reply{Err: actors.ErrClosed}
		return
	}
	e := m.pools[msg.Discriminator]
	if e == nil {
		key := tokens.NewKey(m.cfg.Server, msg.Discriminator)
		// From the root, not as a child: see actors.Init.Manager.
		pid := c.ActorSystem().Root.Spawn(m.poolProps)
		e = &poolEntry{pid: pid}
		e.route.pid = pid
		c.Send(e.pid, &actors.Init{Pool: m.poolConfig(key, msg.Identity), Identity: msg.Identity, Manager: c.Self()})
		m.pools[msg.Discriminator] = e
		m.routes.put(msg.Discriminator, &e.route)
		m.created++
		m.log().Info("idpool: pool created", "pool", key.Redacted(), "identity_kind", msg.Identity.Kind().String())
	}
	e.route.sent.Add(1)
	c.Send(e.pid, msg)
}

func (m *managerActor) poolConfig(key tokens.Key, id tokens.Identity) actors.PoolConfig {
	cfg := m.cfg
	return actors.PoolConfig{
		Key:              key,
		MinSize:          cfg.MinSize,
		MaxSize:          cfg.MaxSize,
		MaxWaiters:       cfg.MaxWaiters,
		IdleTimeout:      cfg.IdleTimeout,
		MaxLifetime:      cfg.MaxLifetime,
		LifetimeJitter:   cfg.LifetimeJitter,
		HealthCheckAfter: cfg.HealthCheckAfter,
		UsesToken:        id.UsesToken(),
		NeedsPermit:      m.permits != nil,
		TokenThreshold:   cfg.TokenThreshold,
		RetireAfter:      cfg.PoolIdleTimeout,
		RefreshAhead:     cfg.TokenRefreshAhead,
		DialBackoff:      cfg.DialBackoff,
		DialBackoffMax:   cfg.DialBackoffMax,
		Seed:             m.seed + m.created,
	}
}

// newPoolProps returns the one Props all of a manager's pools share.
func newPoolProps(cfg Config) *actor.Props {
	return actors.NewProps(&actors.ActorConfig{
		Dialer:          cfg.Dialer,
		Dispatcher:      inlineDispatcher,
		BeforeClose:     cfg.Hooks.BeforeClose,
		Clock:           cfg.Clock,
		Logger:          cfg.Logger,
		DialTimeout:     cfg.DialTimeout,
		MintTimeout:     cfg.MintTimeout,
		ValidateTimeout: cfg.ValidateTimeout,
	})
}

// retire agrees to a pool's request only when every acquire sent to it, by
// callers or by this actor, has reached it: then nothing can be in flight,
// and a later acquire for the key spawns a fresh pool. The route is closed
// first, so that a caller about to send directly either sees it closed and
// comes here, or is counted in sent (see route).
func (m *managerActor) retire(c actor.Context, msg *messages.RetireRequest) {
	disc := msg.Key.Discriminator()
	e := m.pools[disc]
	if e == nil || e.pid.Id != msg.Pool.Id {
		return
	}
	e.route.closed.Store(true)
	if e.route.sent.Load() != int64(msg.Seen) {
		e.route.closed.Store(false) // an acquire is on its way: the pool stays
		return
	}
	delete(m.pools, disc)
	m.pools = shrunk(m.pools, &m.poolDeletes)
	m.routes.remove(disc)
	m.draining[e.pid.Id] = e
	m.retired++
	m.log().Info("idpool: pool retired", "pool", msg.Key.Redacted())
	c.Send(e.pid, &messages.RetireApproved{})
}

// drained takes the final counters of a pool that has closed everything, and
// stops it. Poison is a user message, so a Stats query sent to the pool
// before this is answered first.
//
// A pool closed by Close may still be sent an acquire by a caller that read
// its route just before; while sent says so, the pool is left alive (an idle
// actor holds no goroutine) to answer it with ErrClosed.
func (m *managerActor) drained(c actor.Context, msg *messages.PoolDrained) {
	e := m.draining[msg.Pool.Id]
	delete(m.draining, msg.Pool.Id)
	m.draining = shrunk(m.draining, &m.drainDeletes)
	addCounters(&m.gone, msg.Stats)
	if e == nil || e.route.sent.Load() == int64(msg.Stats.Acquires) {
		c.Poison(msg.Pool)
	}
	m.maybeClosed()
}

func (m *managerActor) close(c actor.Context, msg *messages.CloseManager) {
	if !m.closed {
		m.closed = true
		m.closeDone = make(chan struct{})
		for disc, e := range m.pools {
			e.route.closed.Store(true)
			m.routes.remove(disc)
			m.draining[e.pid.Id] = e
			c.Send(e.pid, &messages.ClosePool{})
			delete(m.pools, disc)
		}
		if m.permits != nil {
			m.permits.denyAll(c)
		}
		m.maybeClosed()
	}
	msg.Reply <- m.closeDone
}

func (m *managerActor) maybeClosed() {
	if m.closed && len(m.draining) == 0 {
		select {
		case <-m.closeDone:
		default:
			close(m.closeDone)
		}
	}
}

func (m *managerActor) stats(c actor.Context, msg *messages.StatsQuery) {
	// Pools retiring or closing are asked too: their counters reach gone
	// only when they have drained.
	ch := make(chan messages.PoolStats, len(m.pools)+len(m.draining))
	for _, e := range m.pools {
		c.Send(e.pid, &messages.PoolStatsQuery{Reply: ch})
	}
	for _, e := range m.draining {
		c.Send(e.pid, &messages.PoolStatsQuery{Reply: ch})
	}
	gone := m.gone
	gone.Closes = make(map[string]uint64, len(m.gone.Closes))
	for k, v := range m.gone.Closes {
		gone.Closes[k] = v
	}
	var inUse, waiting int
	if m.permits != nil {
		inUse, waiting = m.permits.inUse, len(m.permits.queue)
	}
	msg.Reply <- messages.ManagerStats{
		PermitsInUse: inUse, PermitWaiters: waiting,
		Pools: len(m.pools), Snapshots: len(m.pools) + len(m.draining), PoolsCreated: m.created, PoolsRetired: m.retired,
		PoolStats: ch, Gone: gone,
	}
}

func (m *managerActor) log() *slog.Logger {
	if m.cfg.Logger != nil {
		return m.cfg.Logger
	}
	return discardLogger
}

var discardLogger = slog.New(slog.DiscardHandler)
