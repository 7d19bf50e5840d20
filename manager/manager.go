package manager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/internal/mailbox"
	"github.com/idpool/idpool/messages"
	"github.com/idpool/idpool/tokens"
)

// Errors returned by a Manager; they work with errors.Is.
var (
	// ErrClosed: the manager is closed.
	ErrClosed = actors.ErrClosed
	// ErrPoolExhausted: the identity's pool already has MaxWaiters waiting.
	ErrPoolExhausted = actors.ErrPoolExhausted
	// ErrAcquireTimeout: the acquire's deadline passed while it queued. Such
	// errors also match context.DeadlineExceeded; see TimeoutError.
	ErrAcquireTimeout = actors.ErrAcquireTimeout
)

// TimeoutError is the error of an acquire that timed out or was cancelled
// while queued; see actors.TimeoutError.
type TimeoutError = actors.TimeoutError

// DialError wraps a failed dial or token mint; see actors.DialError.
type DialError = actors.DialError

// BlockedError fails an acquire at once during a blocking period after failed
// dials; see Config.DialBackoff and actors.BlockedError.
type BlockedError = actors.BlockedError

// Manager hands out connections from one pool per identity. It is safe for
// concurrent use. Create it with New and stop it with Close.
type Manager struct {
	cfg     Config
	system  *actor.ActorSystem
	root    *actor.RootContext
	pid     *actor.PID
	nextID  atomic.Uint64
	closed  atomic.Bool
	metrics *metrics
	// routes lets an acquire for an identity whose pool exists go straight
	// to that pool actor; misses go through the manager actor.
	routes *routeTable
	// life ends when Close is called.
	life   context.Context
	cancel context.CancelFunc
	// gate counts the operations in flight on leases, for a forced Close
	// (see guard.go).
	gate opGate
}

// New validates cfg, naming every invalid field in a *ConfigError, and starts
// the manager actor. Pools start on the first acquire of each identity.
func New(cfg Config) (*Manager, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	m := &Manager{}
	routes := newRouteTable()
	mt, err := newMetrics(m, cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Hooks.BeforeConnect != nil || cfg.Hooks.AfterConnect != nil {
		cfg.Dialer = hookedDialer{next: cfg.Dialer, hooks: cfg.Hooks}
	}
	if mt != nil {
		cfg.Dialer = timedDialer{next: cfg.Dialer, mt: mt}
	}
	system := actor.NewActorSystem(actor.WithLoggerFactory(protoactorLogger(cfg.Logger)))
	props := actor.PropsFromProducer(func() actor.Actor { return newManagerActor(cfg, seed, routes) },
		actor.WithSupervisor(actor.NewOneForOneStrategy(0, 0, resumeOnPanic)),
		actor.WithDispatcher(inlineDispatcher), actor.WithMailbox(mailbox.Producer()))
	pid, err := system.Root.SpawnNamed(props, "idpool-manager")
	if err != nil {
		return nil, err
	}
	life, cancel := context.WithCancel(context.Background())
	*m = Manager{cfg: cfg, system: system, root: system.Root, pid: pid, life: life, cancel: cancel, metrics: mt, routes: routes}
	return m, nil
}

// debugLogging says whether per-acquire debug events are wanted: only when a
// Logger is set and enabled at debug level, so the hot path pays a nil check.
func (m *Manager) debugLogging(ctx context.Context) bool {
	return m.cfg.Logger != nil && m.cfg.Logger.Enabled(ctx, slog.LevelDebug)
}

// inlineDispatcher runs an actor's mailbox on the goroutine that sent to it
// when the actor is idle, instead of starting a goroutine per burst. Receive
// never blocks, so the sender only lends its goroutine for the few hundred
// nanoseconds a step takes; the mailbox still serializes each actor. This
// takes the goroutine start, its stack growth and two context switches off
// every acquire.
var inlineDispatcher = actor.NewSynchronizedDispatcher(300)

// resumeOnPanic keeps a pool actor and its state if it ever panics: a restart
// would forget its connections and strand its waiters.
func resumeOnPanic(any) actor.Directive { return actor.ResumeDirective }

// protoactorLogger silences protoactor unless the user gave a logger, and
// then passes on only its warnings and errors.
func protoactorLogger(l *slog.Logger) func(*actor.ActorSystem) *slog.Logger {
	return func(*actor.ActorSystem) *slog.Logger {
		if l == nil {
			return discardLogger
		}
		return slog.New(minLevel{l.Handler(), slog.LevelWarn}).With("lib", "protoactor")
	}
}

// Acquire returns a lease on a connection logged in as id, from id's pool.
// It waits until a connection is free or ctx ends; with no deadline on ctx it
// waits at most Config.AcquireTimeout. A timeout returns a *TimeoutError that
// matches ErrAcquireTimeout and context.DeadlineExceeded. With a PrepareConn
// hook, connections it turns down are discarded and others tried.
func (m *Manager) Acquire(ctx context.Context, id tokens.Identity) (*Lease, error) {
	var start time.Time
	if m.metrics != nil {
		start = time.Now()
	}
	for {
		l, err := m.acquire(ctx, id)
		if err != nil {
			return nil, err
		}
		keep, err := m.prepare(ctx, l)
		if err != nil {
			return nil, err
		}
		if keep {
			if m.metrics != nil {
				l.grantedAt = time.Now()
				m.metrics.recordWait(l.disc, l.grantedAt.Sub(start))
			}
			if m.debugLogging(ctx) {
				m.cfg.Logger.DebugContext(ctx, "idpool: acquired", "pool", l.Key().Redacted(), "conn", l.release.ConnID)
			}
			return l, nil
		}
	}
}

func (m *Manager) acquire(ctx context.Context, id tokens.Identity) (*Lease, error) {
	if m.closed.Load() {
		return nil, ErrClosed
	}
	disc, err := id.Discriminator(ctx)
	if err != nil {
		return nil, err
	}
	// Without a deadline of the ctx's own, the pool enforces AcquireTimeout:
	// cheaper than a timer per acquire, and a pool hit never needs one.
	var timeout time.Duration
	if _, has := ctx.Deadline(); !has {
		timeout = m.cfg.AcquireTimeout
	}
	reply := getReplyChan()
	l := &Lease{m: m, disc: disc}
	l.acquire = messages.Acquire{ID: m.nextID.Add(1), Discriminator: disc, Identity: id, Reply: reply, Timeout: timeout}
	to := m.send(disc, &l.acquire)
	var r messages.Reply
	select {
	case r = <-reply:
	case <-ctx.Done():
		timeout := errors.Is(ctx.Err(), context.DeadlineExceeded)
		// The Cancel takes the Acquire's path: to the pool directly, or
		// through the manager, which forwards it to the same pool.
		m.root.Send(to, &messages.Cancel{ID: l.acquire.ID, Discriminator: disc, Timeout: timeout})
		// Exactly one more reply comes: Cancelled, or the answer that
		// crossed our Cancel.
		r = <-reply
		if r.Err == nil {
			if r.Conn != nil { // granted meanwhile: hand it back unused
				m.root.Send(r.Pool, &messages.Release{ConnID: r.ConnID})
			}
			r.Err = &TimeoutError{Key: tokens.NewKey(m.cfg.Server, disc), MaxSize: m.cfg.MaxSize, Waiters: r.Waiters, Canceled: !timeout}
		}
	}
	putReplyChan(reply)
	if r.Err != nil {
		return nil, r.Err
	}
	l.granted(r)
	return l, nil
}

// send delivers an acquire: straight to the identity's pool when the manager
// has published a route to it (a hit skips the manager actor), otherwise to
// the manager actor, which spawns the pool. It returns where it sent it.
func (m *Manager) send(disc string, msg *messages.Acquire) *actor.PID {
	if r := m.routes.get(disc); r != nil {
		r.sent.Add(1)
		if !r.closed.Load() {
			m.root.Send(r.pid, msg)
			return r.pid
		}
		r.sent.Add(-1) // retiring or closing: the manager decides
	}
	m.root.Send(m.pid, msg)
	return m.pid
}

// replyChans recycles the capacity-1 reply channels. A channel is reused only
// after its acquire has read its one terminal reply, so it is always empty.
var replyChans = sync.Pool{New: func() any { return make(chan messages.Reply, 1) }}

func getReplyChan() chan messages.Reply  { return replyChans.Get().(chan messages.Reply) }
func putReplyChan(c chan messages.Reply) { replyChans.Put(c) }

// Stats returns a snapshot of every live pool and the totals.
func (m *Manager) Stats() Stats {
	reply := make(chan messages.ManagerStats, 1)
	m.root.Send(m.pid, &messages.StatsQuery{Reply: reply})
	ms := <-reply
	s := Stats{Pools: ms.Pools, PoolsCreated: ms.PoolsCreated, PoolsRetired: ms.PoolsRetired,
		PermitsInUse: ms.PermitsInUse, PermitWaiters: ms.PermitWaiters, PerPool: make([]PoolStats, 0, ms.Snapshots)}
	s.Total = ms.Gone
	s.Total.Key = "total"
	for range ms.Snapshots {
		ps := <-ms.PoolStats
		s.PerPool = append(s.PerPool, ps)
		addCounters(&s.Total, ps)
		addGauges(&s.Total, ps)
	}
	return s
}

// Close closes the manager: new acquires fail with ErrClosed, queued ones
// fail with ErrClosed, idle connections close now and leased ones when they
// are released. It returns nil once every connection is closed. If ctx ends
// first, the connections still leased are closed under their holders (whose
// later Release is ignored) and Close returns a *ForcedCloseError saying how
// many. Close is idempotent.
func (m *Manager) Close(ctx context.Context) error {
	m.closed.Store(true)
	m.cancel()
	reply := make(chan (<-chan struct{}), 1)
	m.root.Send(m.pid, &messages.CloseManager{Reply: reply})
	done := <-reply
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	m.gate.force(m.cfg.Clock) // refuse new operations, wait for running ones
	m.root.Send(m.pid, &messages.ForceClose{})
	select {
	case <-done:
	case <-time.After(forcedCloseGrace):
	}
	return &ForcedCloseError{Forced: int(m.Stats().Total.Closes["forced"]), Err: ctx.Err()}
}

// forcedCloseGrace bounds the wait for the driver Close calls of a forced
// close, in case a driver's Close hangs.
const forcedCloseGrace = 5 * time.Second

// ForcedCloseError is returned by a Close whose ctx ended before every lease
// came back: Forced connections were closed while leased.
type ForcedCloseError struct {
	Forced int
	Err    error
}

// Error implements error.
func (e *ForcedCloseError) Error() string {
	return fmt.Sprintf("idpool: closed %d leased connections by force: %v", e.Forced, e.Err)
}

// Unwrap returns the ctx's error.
func (e *ForcedCloseError) Unwrap() error { return e.Err }
