package manager

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/idpool/idpool/actors"
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

// Manager hands out connections from one pool per identity. It is safe for
// concurrent use. Create it with New and stop it with Close.
type Manager struct {
	cfg    Config
	system *actor.ActorSystem
	root   *actor.RootContext
	pid    *actor.PID
	nextID atomic.Uint64
	closed atomic.Bool
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
	system := actor.NewActorSystem(actor.WithLoggerFactory(protoactorLogger(cfg.Logger)))
	props := actor.PropsFromProducer(func() actor.Actor { return newManagerActor(cfg, seed) },
		actor.WithSupervisor(actor.NewOneForOneStrategy(0, 0, resumeOnPanic)))
	pid, err := system.Root.SpawnNamed(props, "idpool-manager")
	if err != nil {
		return nil, err
	}
	return &Manager{cfg: cfg, system: system, root: system.Root, pid: pid}, nil
}

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
// matches ErrAcquireTimeout and context.DeadlineExceeded.
func (m *Manager) Acquire(ctx context.Context, id tokens.Identity) (*Lease, error) {
	if m.closed.Load() {
		return nil, ErrClosed
	}
	disc, err := id.Discriminator(ctx)
	if err != nil {
		return nil, err
	}
	key := tokens.NewKey(m.cfg.Server, disc)
	if _, has := ctx.Deadline(); !has && m.cfg.AcquireTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.cfg.AcquireTimeout)
		defer cancel()
	}
	reply := getReplyChan()
	acqID := m.nextID.Add(1)
	m.root.Send(m.pid, &messages.Acquire{ID: acqID, Key: key, Identity: id, Reply: reply})
	var r messages.Reply
	select {
	case r = <-reply:
	case <-ctx.Done():
		timeout := errors.Is(ctx.Err(), context.DeadlineExceeded)
		m.root.Send(m.pid, &messages.Cancel{ID: acqID, Key: key, Timeout: timeout})
		// Exactly one more reply comes: Cancelled, or the answer that
		// crossed our Cancel.
		r = <-reply
		if r.Err == nil {
			if r.Conn != nil { // granted meanwhile: hand it back unused
				m.root.Send(r.Pool, &messages.Release{ConnID: r.ConnID})
			}
			r.Err = &TimeoutError{Key: key, MaxSize: m.cfg.MaxSize, Waiters: r.Waiters, Canceled: !timeout}
		}
	}
	putReplyChan(reply)
	if r.Err != nil {
		return nil, r.Err
	}
	return newLease(m, key, r), nil
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
		PermitsInUse: ms.PermitsInUse, PermitWaiters: ms.PermitWaiters, PerPool: make([]PoolStats, 0, ms.Pools)}
	s.Total = ms.Gone
	s.Total.Key = "total"
	for range ms.Pools {
		ps := <-ms.PoolStats
		s.PerPool = append(s.PerPool, ps)
		addCounters(&s.Total, ps)
		addGauges(&s.Total, ps)
	}
	return s
}

// Close closes the manager: new acquires fail with ErrClosed, queued ones
// fail with ErrClosed, idle connections close now and leased ones when they
// are released. It returns once every connection is closed, or with ctx's
// error if ctx ends first (closing then goes on in the background). Close is
// idempotent.
func (m *Manager) Close(ctx context.Context) error {
	m.closed.Store(true)
	reply := make(chan (<-chan struct{}), 1)
	m.root.Send(m.pid, &messages.CloseManager{Reply: reply})
	done := <-reply
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
