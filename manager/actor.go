package manager

import (
	"fmt"
	"log/slog"

	"github.com/idpool/idpool/internal/panicdesc"
	"github.com/idpool/idpool/internal/shrink"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/manager/decide"
	"github.com/idpool/idpool/messages"
	"github.com/idpool/idpool/tokens"
)

// managerActor drives the manager's state machine (package decide), as the
// pool actor drives actors.Pool: it turns messages into inputs and carries
// out the effects (spawning pool actors, publishing and withdrawing routes,
// forwarding, permits, Close). It decides nothing itself and never blocks.
type managerActor struct {
	cfg Config // resolved
	sm  *decide.Manager
	// entries: every pool spawned and not stopped; poolOf finds a pool's
	// id from the PID on its messages.
	entries map[decide.PoolID]*poolEntry
	// closeDone is made by the first CloseManager and closed on EffClosed.
	closeDone chan struct{}
	gone      messages.PoolStats
	// goneByKind is gone split by identity kind, for the metrics.
	goneByKind map[string]messages.PoolStats
	// poolProps spawns every pool; each learns its key from an Init. Made
	// at the first spawn, when this actor's PID is known (the pools' shared
	// ActorConfig names it as their manager).
	poolProps *actor.Props
	// routes publishes the pools to callers, for hits that skip this actor.
	routes *routeTable
	// acquire is the Acquire being stepped (for EffSpawn and EffForward),
	// and acquireOut says it was forwarded or answered (a panic after
	// that must not answer it again: see recoverInternal); next holds
	// the follow-up inputs the effects produced (RouteClosed).
	acquire    *messages.Acquire
	acquireOut bool
	next       []decide.Input
	// entryDeletes counts deletions since entries was last rebuilt (see
	// shrink.Map).
	entryDeletes int
}

type poolEntry struct {
	pid  *actor.PID
	disc string
	// route is how callers reach the pool directly (published by address);
	// its sent count serves the retirement agreement.
	route route
	// drained: the pool reported PoolDrained but may not be stopped yet
	// (an acquire may still reach it); Stats no longer asks it.
	drained bool
}

func newManagerActor(cfg Config, seed uint64, routes *routeTable) *managerActor {
	return &managerActor{
		routes:     routes,
		cfg:        cfg,
		sm:         decide.New(decide.Config{Server: cfg.Server, Pool: poolTemplate(cfg), MaxTotal: cfg.MaxTotal, Seed: seed}),
		entries:    make(map[decide.PoolID]*poolEntry),
		gone:       messages.PoolStats{Closes: map[string]uint64{}},
		goneByKind: map[string]messages.PoolStats{},
	}
}

// poolTemplate is what every pool of the manager shares; decide adds what
// is each pool's own (key, token use, permits, seed).
func poolTemplate(cfg Config) actors.PoolConfig {
	return actors.PoolConfig{
		MinSize:          cfg.MinSize,
		MaxSize:          cfg.MaxSize,
		MaxWaiters:       cfg.MaxWaiters,
		IdleTimeout:      cfg.IdleTimeout,
		MaxLifetime:      cfg.MaxLifetime,
		LifetimeJitter:   cfg.LifetimeJitter,
		HealthCheckAfter: cfg.HealthCheckAfter,
		TokenThreshold:   cfg.TokenThreshold,
		RetireAfter:      cfg.PoolIdleTimeout,
		RefreshAhead:     cfg.TokenRefreshAhead,
		DialBackoff:      cfg.DialBackoff,
		DialBackoffMax:   cfg.DialBackoffMax,
	}
}

func (m *managerActor) Receive(c actor.Context) {
	defer m.recoverInternal()
	switch msg := c.Message().(type) {
	case *messages.Acquire:
		m.acquire, m.acquireOut = msg, false
		m.step(c, decide.Acquire{Disc: msg.Discriminator, UsesToken: msg.Identity.UsesToken()})
		m.acquire = nil
	case *messages.Cancel:
		if id, ok := m.sm.Pool(msg.Discriminator); ok {
			c.Send(m.entries[id].pid, msg)
		}
	case *messages.PermitRequest:
		m.step(c, decide.PermitRequest{Pool: m.poolID(msg.Pool), Fill: msg.Fill})
	case *messages.PermitReturn:
		m.step(c, decide.PermitReturn{Pool: m.poolID(msg.Pool)})
	case *messages.StealRefused:
		m.step(c, decide.StealRefused{Pool: m.poolID(msg.Pool)})
	case *messages.WithdrawPermit:
		m.step(c, decide.WithdrawPermit{Pool: m.poolID(msg.Pool)})
	case *messages.RetireRequest:
		if id, ok := m.poolOf(msg.Pool); ok {
			m.step(c, decide.RetireRequest{Pool: id, Seen: msg.Seen})
		}
	case *messages.PoolDrained:
		m.drained(c, msg)
	case *messages.StatsQuery:
		m.stats(c, msg)
	case *messages.CloseManager:
		if m.closeDone == nil {
			m.closeDone = make(chan struct{})
		}
		m.step(c, decide.Close{})
		msg.Reply <- m.closeDone
	case *messages.Evict:
		m.evict(c, msg)
	case *messages.Reset:
		m.reset(c, msg)
	case *messages.ForceClose:
		m.step(c, decide.ForceClose{})
	}
}

// recoverInternal keeps the actor and its state if a step panics (idpool's
// own code, or Config.Clock, user code: what it panicked with is described,
// never printed). An acquire the step had neither forwarded nor answered is
// answered with ErrInternal: its caller would otherwise wait for good, past
// its ctx too, since the Cancel it then sends finds no pool holding it.
func (m *managerActor) recoverInternal() {
	r := recover()
	if r == nil {
		return
	}
	if m.cfg.Logger != nil {
		m.cfg.Logger.Error("idpool: internal error in manager actor", "panic", panicdesc.Describe(r))
	}
	if m.acquire != nil && !m.acquireOut {
		m.acquire.Reply <- messages.Reply{Err: actors.ErrInternal}
	}
	m.acquire = nil
}

// step is the driver loop of package decide's doc: one input, its effects
// carried out, then the follow-up inputs they produced, until none is left.
func (m *managerActor) step(c actor.Context, in decide.Input) {
	now := m.cfg.Clock.Now()
	m.sm.Step(now, in)
	for {
		m.run(c)
		if len(m.next) == 0 {
			return
		}
		next := m.next[0]
		m.next = m.next[1:]
		if len(m.next) == 0 {
			m.next = m.next[:0:0]
		}
		m.sm.Step(now, next)
	}
}

// run carries out the effects from Ready, then Advances (also if one
// panics, so that the next Step runs).
func (m *managerActor) run(c actor.Context) {
	defer m.sm.Advance()
	for _, e := range m.sm.Ready() {
		m.effect(c, &e)
	}
}

func (m *managerActor) effect(c actor.Context, e *decide.Effect) {
	if e.Kind != decide.EffFailClosed && e.Kind != decide.EffSpawn && e.Kind != decide.EffClosed && m.entries[e.Pool] == nil {
		// A pool this actor no longer knows (stopped): nothing to carry
		// out. decide only names pools it was told of, so this is a
		// message from a pool already stopped.
		return
	}
	switch e.Kind {
	case decide.EffFailClosed:
		m.acquireOut = true
		m.acquire.Reply <- messages.Reply{Err: actors.ErrClosed}
	case decide.EffSpawn:
		m.spawn(c, e)
	case decide.EffPublish:
		m.routes.put(e.Disc, &m.entries[e.Pool].route)
	case decide.EffForward:
		ent := m.entries[e.Pool]
		ent.route.sent.Add(1)
		m.acquireOut = true
		c.Send(ent.pid, m.acquire)
	case decide.EffCloseRoute:
		// Close first, then read sent: see route.
		r := &m.entries[e.Pool].route
		r.closed.Store(true)
		m.next = append(m.next, decide.RouteClosed{Pool: e.Pool, Sent: uint64(r.sent.Load())})
	case decide.EffReopenRoute:
		m.entries[e.Pool].route.closed.Store(false)
	case decide.EffWithdraw:
		m.entries[e.Pool].route.closed.Store(true)
		m.routes.remove(e.Disc)
	case decide.EffClosePool:
		ent := m.entries[e.Pool]
		if e.Retire {
			m.log().Info("idpool: pool retired", "pool", tokens.NewKey(m.cfg.Server, ent.disc).Redacted())
			c.Send(ent.pid, &messages.RetireApproved{})
			return
		}
		c.Send(ent.pid, &messages.ClosePool{})
	case decide.EffForceClose:
		c.Send(m.entries[e.Pool].pid, &messages.ForceClose{})
	case decide.EffStop:
		// Poison is a user message, so a Stats query sent to the pool
		// before this is answered first.
		m.stop(c, e.Pool)
	case decide.EffClosed:
		close(m.closeDone)
	case decide.EffGrantPermit:
		// Through the actor context: the fleet gate (budget.go) holds a
		// grant back until a fleet permit is taken.
		c.Send(m.entries[e.Pool].pid, &messages.PermitGrant{})
	case decide.EffRefuseFill:
		c.Send(m.entries[e.Pool].pid, &messages.FillRefused{})
	case decide.EffDenyPermit:
		c.Send(m.entries[e.Pool].pid, &messages.PermitDenied{})
	case decide.EffSteal:
		c.Send(m.entries[e.Pool].pid, &messages.StealIdle{})
	case decide.EffPermitWithdrawn:
		// Through the actor context, as grants are, so that it follows any
		// grant sent to the pool before it; the fleet gate may turn a
		// Removed false into a true by taking the request off its own
		// queue (budget.go).
		c.Send(m.entries[e.Pool].pid, &messages.PermitWithdrawn{Removed: e.Removed})
	case decide.EffCancelSteal:
		c.Send(m.entries[e.Pool].pid, &messages.StealCancelled{})
	}
}

// spawn starts the pool actor, from the root rather than as a child (see
// actors.ActorConfig.Manager), and sends it its Init before anything else can:
// the route is published only after this.
func (m *managerActor) spawn(c actor.Context, e *decide.Effect) {
	if m.poolProps == nil {
		m.poolProps = newPoolProps(m.cfg, c.Self())
	}
	pid, err := c.ActorSystem().Root.SpawnNamed(m.poolProps, poolName(e.Pool))
	if err != nil {
		// Unreachable: no other actor is named so (see poolName).
		panic(fmt.Sprintf("idpool: spawning pool %d: %v", e.Pool, err))
	}
	ent := &poolEntry{pid: pid, disc: e.Disc}
	ent.route.pid = pid
	ent.route.proc, _ = c.ActorSystem().ProcessRegistry.Get(pid)
	m.entries[e.Pool] = ent
	c.Send(pid, &actors.Init{Pool: e.Config, Identity: m.acquire.Identity})
	m.log().InfoContext(ctxOf(m.acquire), "idpool: pool created", "pool", e.Config.Key.Redacted(), "identity_kind", m.acquire.Identity.Kind().String())
}

func (m *managerActor) stop(c actor.Context, id decide.PoolID) {
	ent := m.entries[id]
	if ent == nil {
		return
	}
	c.Poison(ent.pid)
	delete(m.entries, id)
	m.entries = shrink.Map(m.entries, &m.entryDeletes)
}

// drained takes the final counters of a pool that has closed everything;
// decide says whether it may be stopped (no acquire still on its way).
func (m *managerActor) drained(c actor.Context, msg *messages.PoolDrained) {
	addCounters(&m.gone, msg.Stats)
	kind := kindOf(msg.Stats)
	g := m.goneByKind[kind]
	addCounters(&g, msg.Stats)
	m.goneByKind[kind] = g
	id, ok := m.poolOf(msg.Pool)
	if !ok {
		c.Poison(msg.Pool)
		return
	}
	ent := m.entries[id]
	ent.drained = true
	m.step(c, decide.Drained{Pool: id, Seen: msg.Stats.Acquires, Sent: uint64(ent.route.sent.Load())})
}

// newPoolProps returns the one Props all of a manager's pools share;
// manager is the manager actor's PID.
func newPoolProps(cfg Config, manager *actor.PID) *actor.Props {
	tmpl := poolTemplate(cfg) // what decide adds each pool's own fields to
	return actors.NewProps(&actors.ActorConfig{
		Dialer:          cfg.Dialer,
		Dispatcher:      inlineDispatcher,
		BeforeClose:     cfg.Hooks.BeforeClose,
		Clock:           cfg.Clock,
		Logger:          cfg.Logger,
		DialTimeout:     cfg.DialTimeout,
		MintTimeout:     cfg.MintTimeout,
		ValidateTimeout: cfg.ValidateTimeout,
		Abort:           cfg.abort,
		CancelGrace:     cfg.CancelGrace,
		Mint:            cfg.mint,
		Manager:         manager,
		Pool:            &tmpl,
	})
}

func (m *managerActor) stats(c actor.Context, msg *messages.StatsQuery) {
	// Pools retiring or closing are asked too: their counters reach gone
	// only when they have drained.
	n := 0
	for _, e := range m.entries {
		if !e.drained {
			n++
		}
	}
	ch := make(chan messages.PoolStats, n)
	for _, e := range m.entries {
		if !e.drained {
			c.Send(e.pid, &messages.PoolStatsQuery{Reply: ch})
		}
	}
	gone := m.gone
	gone.Closes = make(map[string]uint64, len(m.gone.Closes))
	for k, v := range m.gone.Closes {
		gone.Closes[k] = v
	}
	goneByKind := make(map[string]messages.PoolStats, len(m.goneByKind))
	for k, v := range m.goneByKind {
		goneByKind[k] = copyCounters(v)
	}
	inUse, waiting := m.sm.Permits()
	msg.Reply <- messages.ManagerStats{
		PermitsInUse: inUse, PermitWaiters: waiting,
		Pools: m.sm.Pools(), Snapshots: n, PoolsCreated: m.sm.Created(), PoolsRetired: m.sm.Retired(),
		PoolStats: ch, Gone: gone, GoneByKind: goneByKind,
	}
}

func (m *managerActor) log() *slog.Logger {
	if m.cfg.Logger != nil {
		return m.cfg.Logger
	}
	return discardLogger
}

var discardLogger = slog.New(slog.DiscardHandler)
