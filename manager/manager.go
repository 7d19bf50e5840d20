package manager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/internal/mailbox"
	"github.com/idpool/idpool/internal/pastctx"
	"github.com/idpool/idpool/internal/safelog"
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
	// ErrInternal: the acquire's message was lost to a panic inside
	// idpool's actors (a Config.Clock that panics is not one: the system
	// clock stands in for it); it was not served, and the error log says
	// why.
	ErrInternal = actors.ErrInternal
)

// TimeoutError is the error of an acquire that timed out or was cancelled
// while queued; see actors.TimeoutError.
type TimeoutError = actors.TimeoutError

// PoolWork is what a pool was doing when an acquire queued in it ended, as
// its TimeoutError says; see actors.PoolWork.
type PoolWork = actors.PoolWork

// DialError wraps a failed dial or token mint; see actors.DialError.
type DialError = actors.DialError

// BlockedError fails an acquire at once during a blocking period after failed
// dials; see Config.DialBackoff and actors.BlockedError.
type BlockedError = actors.BlockedError

// Manager hands out connections from one pool per identity. It is safe for
// concurrent use. Create it with New and stop it with Close.
type Manager struct {
	cfg    Config
	system *actor.ActorSystem
	root   *actor.RootContext
	pid    *actor.PID
	closed atomic.Bool
	// nextID numbers the acquires sent through the manager actor (see
	// send). Not a Lease's address: a Cancel can still be on its way to a
	// pool after its caller took the grant that crossed it and dropped the
	// Lease, and a new Lease at the same address, queued in the same pool,
	// would be cancelled by it.
	nextID  atomic.Uint64
	metrics *metrics
	tracing *tracing
	// routes lets an acquire for an identity whose pool exists go straight
	// to that pool actor; misses go through the manager actor.
	routes *routeTable
	// keys counts the mints of token-keyed identities' key lookups.
	keys keyLookups
	// life ends when Close is called.
	life context.Context
	// resetCtx is life, carrying CancelGrace for the driver's session reset
	// at Release (see ReleaseGrace); nil on a Manager not from New.
	resetCtx context.Context
	cancel   context.CancelFunc
	// gate counts the operations in flight on leases, for a forced Close
	// (see guard.go).
	gate opGate
	// abandonedPrepares counts the leases held by a PrepareConn hook whose
	// Acquire has given up (see prepare): no caller will give them back, so
	// a Close without a deadline does not wait for them as for leases.
	abandonedPrepares atomic.Int64
	// dialer is Config.Dialer as the caller gave it, before hooks and
	// metrics wrap it, for its optional interfaces (Prober,
	// StatementCacher, Aborter).
	dialer Dialer
	// aborter is dialer as an Aborter, nil when it is none or CancelGrace
	// is off: a call then registers nothing on its ctx.
	aborter Aborter
	// resetTracker is dialer as a ResetTracker, or nil: asked once here,
	// so that a Release (the hit path's second half) pays a nil check,
	// not an interface assertion.
	resetTracker ResetTracker
	// txReporter is dialer as a TxReporter, or nil, asked once here too.
	txReporter TxReporter
	// watchCalls: calls are watched on their ctx (trackCalls); false for
	// an Aborter whose driver ends its calls at their ctx (CtxBounded).
	watchCalls bool
	// armTimer is Config.Clock's AfterFunc returning its Timer's Stop,
	// made once for the calls' watches (internal/pastctx), which stop
	// their grace's timer when they end.
	armTimer pastctx.Arm
}

// New validates cfg, naming every invalid field in a *ConfigError, and starts
// the manager actor. Pools start on the first acquire of each identity.
func New(cfg Config) (*Manager, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	// The actors log while they handle a message, and a panic of the
	// user's handler there would lose that message (see safelog).
	cfg.Logger = safelog.Wrap(cfg.Logger)
	cfg.Clock = withSafeClock(cfg)
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	m := &Manager{}
	routes := newRouteTable()
	dialer := cfg.Dialer
	mt, err := newMetrics(m, cfg)
	if err != nil {
		return nil, err
	}
	tr := newTracing(cfg) // before the Dialer is wrapped: it may name the database
	if cfg.Hooks.BeforeConnect != nil || cfg.Hooks.AfterConnect != nil {
		cfg.Dialer = hookedDialer{next: cfg.Dialer, hooks: cfg.Hooks}
	}
	if mt != nil || tr != nil {
		cfg.Dialer = observedDialer{next: cfg.Dialer, m: m}
		cfg.mint = m.observedMint
	}
	aborter, _ := dialer.(Aborter)
	if cfg.CancelGrace <= 0 {
		aborter = nil // CancelGrace off: nothing is watched
	}
	if aborter != nil {
		cfg.abort = aborter.AbortTransport
	}
	system := newActorSystem(cfg.Logger)
	props := actor.PropsFromProducer(func() actor.Actor { return newManagerActor(cfg, seed, routes) },
		actor.WithSupervisor(actor.NewOneForOneStrategy(0, 0, resumeOnPanic)),
		actor.WithDispatcher(inlineDispatcher), actor.WithMailbox(mailbox.Producer()), fleetProps(cfg.Fleet))
	pid, err := system.Root.SpawnNamed(props, "idpool-manager")
	if err != nil {
		return nil, err
	}
	life, cancel := context.WithCancel(context.Background())
	*m = Manager{cfg: cfg, system: system, root: system.Root, pid: pid, life: life, cancel: cancel, metrics: mt, tracing: tr, routes: routes, dialer: dialer}
	m.resetCtx = withReleaseGrace(life, cfg.CancelGrace)
	m.resetTracker, _ = dialer.(ResetTracker)
	m.txReporter, _ = dialer.(TxReporter)
	if aborter != nil {
		m.aborter = aborter
		cb, ok := aborter.(CtxBounded)
		m.watchCalls = !ok || !cb.EndsCallsAtCtx()
		clock := cfg.Clock
		m.armTimer = func(d time.Duration, f func()) func() bool { return clock.AfterFunc(d, f).Stop }
	}
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
// waits at most Config.AcquireTimeout. That one deadline bounds the whole
// call: queueing, dialing, every PrepareConn attempt and the hooks, which get
// a ctx carrying it. A timeout returns a *TimeoutError that matches
// ErrAcquireTimeout and context.DeadlineExceeded. With a PrepareConn hook,
// connections it turns down are discarded and others tried until the
// deadline. A ctx that has already ended fails at once with its own error:
// no pool is started, nothing is dialed. An invalid id (the zero Identity
// among them) fails with an error matching tokens.ErrInvalidIdentity. A
// token handed in (tokens.StaticTokenIdentity) that has expired, expires
// within Config.TokenThreshold or has no known expiry fails with an
// actors.TokenExpiryError before its pool is looked up (see
// tokens.Identity.HandedInExpiry): it gets no pool hit either.
//
// The values of ctx (not its deadline or cancellation) travel with the
// acquire: a dial or token mint it causes runs with them (the Dialer and
// BeforeConnect see them), and so do the log lines it causes. With
// Config.TracerProvider set, the acquire is an idpool.acquire span, and such
// a dial or mint is its child.
//
// idpool calls ctx's Done, Err and Deadline in the caller's goroutine only
// (PrepareConn and a key lookup aside, below). Its Value is called there
// and wherever the values travel: by the dials and mints the acquire
// causes, through a ctx of their own whose Value calls ctx's Value, and by
// the Logger's handler, which gets ctx; each contains a panic of it.
// PrepareConn gets ctx, or a child of it that bounds its deadline, to use
// in the hook's goroutine; the first acquire of a token-keyed identity
// mints to learn its key under such a child (bounded by MintTimeout too,
// and ended by Close, which fails the Acquire with ErrClosed), in a
// goroutine of its own. For a ctx of a type the context package does
// not know, that child calls ctx's Done, Err and Value from a goroutine of
// the package's own. Should
// one of ctx's methods panic in the caller's goroutine, the panic reaches
// the caller of Acquire, with nothing left behind: an acquire already
// queued is withdrawn and a connection granted meanwhile goes back to its
// pool. A nil ctx fails with ErrNilContext, before anything is done.
func (m *Manager) Acquire(ctx context.Context, id tokens.Identity) (*Lease, error) {
	if !m.started() {
		return nil, ErrNoManager
	}
	if ctx == nil {
		return nil, nilContextError("Manager.Acquire")
	}
	if m.tracing == nil {
		l, _, err := m.acquireLease(ctx, id)
		return l, err
	}
	ctx, span := m.tracing.startAcquire(ctx, id)
	l, queued, err := m.acquireLease(ctx, id)
	m.tracing.endAcquire(ctx, span, m, id, l, queued, err)
	return l, err
}

// acquireLease is Acquire; it also says how long the granted acquire queued
// in its pool.
func (m *Manager) acquireLease(ctx context.Context, id tokens.Identity) (*Lease, time.Duration, error) {
	// The zero Identity (what a failed constructor returns) is refused here,
	// before any pool or dial: it must never log in with the DSN's user.
	if err := id.Validate(); err != nil {
		return nil, 0, err
	}
	if _, handedIn := id.HandedInExpiry(); handedIn {
		// Tested here, inlined, so that every other identity's acquire
		// pays a load and a compare, not a call.
		if err := m.handedInExpired(id); err != nil {
			return nil, 0, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if m.cfg.Hooks.PrepareConn != nil {
		// Retries must not restart the clock: one deadline for them all.
		var cancel context.CancelFunc
		ctx, cancel = m.boundAcquire(ctx)
		defer cancel()
	}
	for attempt := 0; ; attempt++ {
		if attempt > 0 && ctx.Err() != nil {
			return nil, 0, m.acquireEnded(ctx, id)
		}
		l, queued, err := m.acquire(ctx, id)
		if err != nil {
			return nil, 0, err
		}
		// From here the caller's ctx is used only by prepare, which reads
		// its Done before it starts the hook (see there).
		if mt := m.metrics; mt != nil {
			// Off a pool hit's path: a hit never queued.
			mt.waited(m, id.Kind(), l.acquire.Discriminator, queued)
		}
		keep, err := m.prepare(ctx, l)
		if err != nil {
			return nil, 0, err
		}
		if keep {
			if m.metrics != nil && m.metrics.useTimeOn {
				l.grantedAt = monotonicNow()
			}
			if m.debugLogging(ctx) {
				m.cfg.Logger.DebugContext(ctx, "idpool: acquired", "pool", l.Key().Redacted(), "conn", l.release.ConnID)
			}
			return l, queued, nil
		}
	}
}

// boundAcquire gives ctx the AcquireTimeout deadline if it has none, so that
// everything an Acquire does is bounded by one deadline.
func (m *Manager) boundAcquire(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, has := ctx.Deadline(); has || m.cfg.AcquireTimeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, m.cfg.AcquireTimeout)
}

// acquireEnded is the error of an Acquire whose ctx ended between attempts
// or while a hook ran.
func (m *Manager) acquireEnded(ctx context.Context, id tokens.Identity) error {
	if !id.KeyResolved() {
		return m.keyLookupEnded(ctx, ctx.Err())
	}
	disc, _ := id.Discriminator(ctx)
	return &TimeoutError{Key: tokens.NewKey(m.cfg.Server, disc), MaxSize: m.cfg.MaxSize,
		Canceled: !errors.Is(ctx.Err(), context.DeadlineExceeded)}
}

// keyLookupEnded is the error of an Acquire whose ctx ended (err) while its
// identity's key was being learned: a *TimeoutError, as for any acquire
// that ran out of time, wrapping what the lookup said.
func (m *Manager) keyLookupEnded(ctx context.Context, err error) error {
	te := &TimeoutError{Key: tokens.NewKey(m.cfg.Server, ""), MaxSize: m.cfg.MaxSize, KeyLookup: true,
		Canceled: !errors.Is(ctx.Err(), context.DeadlineExceeded)}
	return &keyLookupError{TimeoutError: te, cause: err}
}

func (m *Manager) acquire(ctx context.Context, id tokens.Identity) (*Lease, time.Duration, error) {
	if m.closed.Load() {
		return nil, 0, ErrClosed
	}
	var disc string
	var err error
	if id.KeyCurrent(m.keyTokenExpired) {
		disc, err = id.Discriminator(ctx) // known: no lookup, no timer
	} else {
		// The key lookup and the wait in the pool share one deadline (the
		// ctx's, or AcquireTimeout from now): bounded apart, each got a
		// whole AcquireTimeout. Only a token-keyed identity's acquires
		// that must mint (its first, or one whose newest token expired:
		// see tokens.Identity.KeyCurrent) pay for the timer.
		var cancel context.CancelFunc
		ctx, cancel = m.boundAcquire(ctx)
		defer cancel()
		disc, err = m.resolveKey(ctx, id)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, m.keyLookupEnded(ctx, err)
		}
		return nil, 0, err
	}
	// Without a deadline of the ctx's own, the pool enforces AcquireTimeout:
	// cheaper than a timer per acquire, and a pool hit never needs one.
	var timeout time.Duration
	if _, has := ctx.Deadline(); !has {
		timeout = m.cfg.AcquireTimeout
	}
	reply := getReplyChan()
	l := &Lease{m: m}
	// Field by field into the new Lease: assigning a whole Acquire literal
	// copies it through a temporary with a bulk write barrier.
	a := &l.acquire
	a.Discriminator, a.Identity, a.Reply, a.Timeout, a.Ctx = disc, id, reply, timeout, ctx
	a.Direct = directOf(l)
	to := m.send(disc, &l.acquire)
	if l.takeDirect() {
		// A pool hit, answered while the pool handled the acquire (on this
		// goroutine, with the inline dispatcher): no channel, no wait.
		putReplyChan(reply)
		l.acquire.Ctx = nil
		l.conn.lease = l
		return l, 0, nil
	}
	r := m.await(ctx, to, &l.acquire)
	putReplyChan(reply)
	// The pool has answered and keeps nothing of the message: a lease kept
	// (by database/sql's idle pool, say) must not keep the request's ctx.
	l.acquire.Ctx = nil
	if r.Err != nil {
		return nil, 0, m.fleetTimeout(disc, r.Err)
	}
	l.granted(r)
	return l, r.Waited, nil
}

// await returns the one reply to acq, sent to `to`, on its channel. When ctx
// ends first it withdraws the acquire (Cancel) and returns a timeout error,
// handing back a grant that crossed the Cancel.
func (m *Manager) await(ctx context.Context, to *actor.PID, acq *messages.Acquire) messages.Reply {
	// An answer given after the pool handled the acquire but before this
	// goroutine got here is already in the channel: a non-blocking receive
	// costs a fraction of a select.
	select {
	case r := <-acq.Reply:
		return r
	default:
	}
	// ctx is the caller's own code: should its Done or Err panic, the
	// acquire is still queued in its pool, whose grant nobody would take
	// (the slot lost for good). Withdraw it as if ctx had ended, hand back
	// what crossed, and let the panic go on to the caller.
	queued := true
	defer func() {
		if queued {
			if p := recover(); p != nil {
				m.withdraw(to, acq, false)
				panic(p)
			}
		}
	}()
	done := ctx.Done()
	if done == nil {
		if deadline, has := ctx.Deadline(); has {
			// A deadline but no Done channel breaks context's contract,
			// and the pool enforces no AcquireTimeout for a ctx with a
			// deadline (see acquire): without a timer of its own this
			// wait would outlive the deadline until a connection came.
			r := m.awaitUntil(to, acq, deadline)
			queued = false
			return r
		}
		// Nothing can end ctx (and the pool enforces AcquireTimeout): a
		// plain receive parks for less than a select does.
		queued = false
		return <-acq.Reply
	}
	select {
	case r := <-acq.Reply:
		queued = false
		return r
	case <-done:
	}
	timeout := errors.Is(ctx.Err(), context.DeadlineExceeded)
	queued = false
	return m.withdraw(to, acq, timeout)
}

// awaitUntil is await for a ctx that has a deadline and no Done channel:
// the deadline, on a timer of its own, ends the wait as Done would have.
func (m *Manager) awaitUntil(to *actor.PID, acq *messages.Acquire, deadline time.Time) messages.Reply {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case r := <-acq.Reply:
		return r
	case <-t.C:
	}
	return m.withdraw(to, acq, true)
}

// withdraw cancels acq, queued in `to`, and returns its one remaining
// reply: Cancelled, or an answer that crossed the Cancel, a grant handed
// back unused and turned into a *TimeoutError.
func (m *Manager) withdraw(to *actor.PID, acq *messages.Acquire, timeout bool) messages.Reply {
	// The Cancel takes the Acquire's path: to the pool directly, or
	// through the manager, which forwards it to the same pool.
	m.root.Send(to, &messages.Cancel{ID: acq.ID, Discriminator: acq.Discriminator, Timeout: timeout})
	// Exactly one more reply comes: Cancelled, or the answer that crossed
	// our Cancel.
	r := <-acq.Reply
	if r.Err == nil {
		if r.Conn != nil { // granted meanwhile: hand it back unused
			m.root.Send(r.Pool, &messages.Release{ConnID: r.ConnID})
		}
		r.Err = &TimeoutError{Key: tokens.NewKey(m.cfg.Server, acq.Discriminator), MaxSize: m.cfg.MaxSize, Waiters: r.Waiters, Canceled: !timeout}
	}
	return r
}

// send delivers an acquire: straight to the identity's pool when the manager
// has published a route to it (a hit skips the manager actor), otherwise to
// the manager actor, which spawns the pool. It returns where it sent it.
//
// send numbers msg. An ID needs to be unique only among the acquires one
// pool receives: an acquire sent over a route takes the route's next
// number, one sent through the manager actor the manager's next with the
// top bit set, so the two never meet in a pool. A caller on the hit path
// then writes no line that every core writes.
func (m *Manager) send(disc string, msg *messages.Acquire) *actor.PID {
	if r := m.routes.get(disc); r != nil {
		r.sent.Add(1)
		if !r.closed.Load() {
			msg.ID = r.ids.Add(1) &^ viaManager
			r.proc.SendUserMessage(r.pid, msg)
			return r.pid
		}
		r.sent.Add(-1) // retiring or closing: the manager decides
	}
	msg.ID = m.nextID.Add(1) | viaManager
	m.root.Send(m.pid, msg)
	return m.pid
}

// viaManager is the bit that sets the IDs of acquires sent through the
// manager actor apart from those sent over a route.
const viaManager = 1 << 63

// replyChans recycles the capacity-1 reply channels. A channel is reused only
// after its acquire has read its one terminal reply, so it is always empty.
var replyChans = sync.Pool{New: func() any { return make(chan messages.Reply, 1) }}

func getReplyChan() chan messages.Reply  { return replyChans.Get().(chan messages.Reply) }
func putReplyChan(c chan messages.Reply) { replyChans.Put(c) }

// Stats returns a snapshot of every live pool and the totals.
func (m *Manager) Stats() Stats {
	s, _ := m.statsUntil(nil, nil)
	return s
}

// goSend sends msg to the manager actor from a goroutine of its own, for
// statsUntil: a send to an idle actor runs it on the sender's goroutine,
// where user code inside it (a Logger handler that blocks) would hold up the
// sender, which must stay bounded by its stop channel.
func (m *Manager) goSend(msg any, _ <-chan struct{}) bool {
	go m.root.Send(m.pid, msg)
	return true
}

// statsUntil is Stats, giving up when stop closes: an actor answers at once
// unless user code inside it (a Logger handler that blocks) holds it up.
// answered says every actor answered; if not, s holds what did. The reply
// channels are buffered: an answer that comes later blocks nobody. send,
// if not nil, sends the query (Close's, off its goroutine and in order
// after its own messages).
func (m *Manager) statsUntil(stop <-chan struct{}, send func(any, <-chan struct{}) bool) (s Stats, answered bool) {
	if !m.started() {
		return Stats{}, true // nothing was ever pooled (see ErrNoManager)
	}
	reply := make(chan messages.ManagerStats, 1)
	if send == nil {
		m.root.Send(m.pid, &messages.StatsQuery{Reply: reply})
	} else if !send(&messages.StatsQuery{Reply: reply}, stop) {
		return Stats{}, false
	}
	var ms messages.ManagerStats
	select {
	case ms = <-reply:
	case <-stop:
		return Stats{}, false
	}
	s = Stats{Pools: ms.Pools, PoolsCreated: ms.PoolsCreated, PoolsRetired: ms.PoolsRetired,
		PermitsInUse: ms.PermitsInUse, PermitWaiters: ms.PermitWaiters, PerPool: make([]PoolStats, 0, ms.Snapshots)}
	s.Total, s.Fleet = ms.Gone, fleetStatsOf(m.cfg.Fleet)
	s.Total.Key = "total"
	m.keys.addTo(&s.Total)
	s.ByKind = make(map[string]PoolStats, len(ms.GoneByKind)+1)
	for kind, g := range ms.GoneByKind {
		g.Key = kind
		s.ByKind[kind] = g
	}
	for range ms.Snapshots {
		var ps PoolStats
		select {
		case ps = <-ms.PoolStats:
		case <-stop:
			return s, false
		}
		s.PerPool = append(s.PerPool, ps)
		addCounters(&s.Total, ps)
		addGauges(&s.Total, ps)
		kind := kindOf(ps)
		k := s.ByKind[kind]
		k.Key = kind
		addCounters(&k, ps)
		addGauges(&k, ps)
		s.ByKind[kind] = k
	}
	return s, true
}

// Close closes the manager: new acquires fail with ErrClosed, queued ones
// fail with ErrClosed, and so do those waiting on their PrepareConn hook
// (the hook's connection closes when the hook returns; until then it is
// counted as after an Acquire that gave up, below), idle connections close
// now and leased ones when they are released; dials, token mints (a
// token-keyed identity's key lookup too, whose Acquire fails with
// ErrClosed) and health checks in flight are cancelled through their ctx,
// and what they return is closed when it comes back.
// Close is idempotent.
//
// It returns nil once every connection is closed and nothing is in flight.
// Otherwise it returns a *CloseError saying what it left behind, and it
// returns by:
//   - ctx's end plus CloseGrace, when ctx ends first (plus one more
//     CloseGrace, to wait for the actors' figures, should user code inside
//     an actor, a Logger handler that blocks, hold it up: CloseError's
//     Unanswered then says so): the leases still out are
//     closed by force (their later Release is ignored; Forced), once the
//     operations running on them have ended or CloseGrace has passed, and
//     Close waits for those closes for what is left of that same
//     CloseGrace. With a Dialer that is an Aborter (and CancelGrace on),
//     each such connection's transport is cut first, so that an operation
//     or a background reader still on it (go-mssqldb's, for a result set
//     left open) fails its next read rather than read into a buffer the
//     driver's Close hands on. The driver's Close never runs while an
//     operation of the lease (Release's rollback, reset or Close of a
//     result set left open, and a PrepareConn hook, included) is still
//     inside the connection: pgx's connection is not safe for concurrent
//     use, and an operation still inside pgx cleans up after the cut on
//     its own goroutine. Such a
//     connection is closed when that operation leaves it, which the cut
//     makes prompt; until then it is counted closing (CloseError.Closing,
//     Stats' ClosingConns), as Forced too. An operation that never leaves
//     (a driver that ignores the cut, or no cut: another Dialer, or
//     CancelGrace off, with a call whose own ctx never ends) keeps its
//     connection open, and its slot closing, for as long as it runs: give
//     operations a ctx that ends;
//   - with a ctx that has no deadline and is never cancelled (for example
//     context.Background()), Close waits for every lease to come back, as
//     long as that takes: leases are their holders' to give back (a lease
//     a PrepareConn hook still holds after its Acquire gave up has no
//     holder, and is not waited for). Once none is out, it waits at most
//     CloseStuckGrace more for dials, mints, health checks, closes and such
//     hooks, which only a dependency ignoring its ctx (a dialer, token
//     source, driver, BeforeClose or PrepareConn hook) can hold up (and,
//     should user code inside an actor hold it up, one more CloseGrace for
//     the actors' figures, as above).
//
// Work Close stops waiting for is not lost: whatever a stuck dial, mint or
// health check returns later is closed by its pool when it returns.
//
// A nil ctx is refused with ErrNilContext before anything closes. Should
// ctx's Done, Err or Deadline panic, the panic reaches the caller with the
// Manager already closing (it stops nothing it began); a later Close with
// another ctx waits for the end as usual.
func (m *Manager) Close(ctx context.Context) error {
	if !m.started() {
		return ErrNoManager
	}
	if ctx == nil {
		return nilContextError("Manager.Close") // before anything closes
	}
	m.closed.Store(true)
	m.cancel()
	// Close's messages to the manager actor go, in order, from a goroutine
	// of their own: a send to an idle actor runs it (and the pools it
	// tells) on the sender's goroutine, where user code inside them (a
	// Logger handler that blocks) would hold Close past its bound.
	sends := make(chan any, 4) // CloseManager, ForceClose and two StatsQuerys: never full
	defer close(sends)
	go func() {
		for msg := range sends {
			m.root.Send(m.pid, msg)
		}
	}()
	send := func(msg any, stop <-chan struct{}) bool {
		select {
		case sends <- msg:
			return true
		case <-stop:
			return false
		}
	}
	reply := make(chan (<-chan struct{}), 1)
	sends <- &messages.CloseManager{Reply: reply}
	// One grace, in real time as ctx runs, from the moment Close stops
	// waiting: operations in flight on leases and the closes that follow
	// share it, so Close never returns later than the grace's end.
	var (
		expired chan struct{}
		grace   *time.Timer
	)
	startGrace := func(d time.Duration) {
		ch := make(chan struct{})
		expired, grace = ch, time.AfterFunc(d, func() { close(ch) })
	}
	defer func() {
		if grace != nil {
			grace.Stop()
		}
	}()
	// The actors answer at once unless user code inside one (a Logger
	// handler that blocks) holds it up: Close then goes on without the
	// answer once its ctx has ended and the grace has begun.
	var done <-chan struct{}
	select {
	case done = <-reply:
	case <-ctx.Done():
		startGrace(CloseGrace)
		select {
		case done = <-reply:
		case <-expired:
		}
	}
	var forcedBefore uint64
	if done != nil {
		stop := ctx.Done()
		if ctx.Err() != nil {
			if expired == nil {
				startGrace(CloseGrace)
			}
			stop = expired
		}
		before, _ := m.statsUntil(stop, send)
		forcedBefore = before.Total.Closes["forced"]
	}
	// Without a deadline, look now and then whether every lease is back.
	var poll <-chan time.Time
	if _, has := ctx.Deadline(); !has {
		t := time.NewTicker(closePollEvery)
		defer t.Stop()
		poll = t.C
	}
	var cause error
wait:
	for {
		select {
		case <-done:
			return nil
		case d := <-reply: // late: the manager actor was held up
			done = d
		case <-ctx.Done():
			// Refuse new operations on leases and give running ones
			// until the grace's end to finish before their connections
			// close.
			if expired == nil {
				startGrace(CloseGrace)
			}
			m.gate.force(expired)
			send(&messages.ForceClose{}, nil)
			cause = ctx.Err()
			break wait
		case <-poll:
			// Read abandonedPrepares after Stats: a hook that returns in
			// between is then still counted busy, and Close polls again.
			// A poll reads only Busy: its query needs no order, and
			// must not fill sends.
			st, answered := m.statsUntil(ctx.Done(), m.goSend)
			if !answered {
				continue // ctx ended meanwhile
			}
			if busy := st.Total.Busy; busy == 0 || busy == int(m.abandonedPrepares.Load()) {
				startGrace(CloseStuckGrace)
				cause = ErrCloseAbandoned
				break wait
			}
		}
	}
graced:
	for {
		select {
		case <-done:
			break graced
		case d := <-reply:
			done = d
		case <-expired:
			break graced
		}
	}
	// What is left; an actor still held up a CloseGrace later is reported
	// as such (its figures missing) rather than waited for.
	stop, t := afterGrace()
	st, answered := m.statsUntil(stop, send)
	t.Stop()
	s := st.Total
	checking := s.Checking
	if cause == ErrCloseAbandoned {
		// Not closed by force: still held by a PrepareConn hook.
		checking += int(m.abandonedPrepares.Load())
	}
	// Signed, floored at 0: should an actor held up by user code have left
	// either count partial (Unanswered), the unsigned difference would wrap.
	forced := max(0, int(s.Closes["forced"])-int(forcedBefore))
	e := &CloseError{Forced: forced, Closing: s.ClosingConns,
		Dialing: s.Dialing + s.AwaitingPermit, Minting: s.Minting, Checking: checking, Err: cause,
		Unanswered: !answered}
	if e.Forced == 0 && e.left() == 0 && answered {
		return nil // everything finished within the grace
	}
	return e
}

// CloseGrace is how long Close waits, once its ctx has ended, for the closes
// it forced and any other work still in flight, before it returns.
const CloseGrace = 100 * time.Millisecond

// afterGrace returns a channel closed CloseGrace from now, and its timer:
// how long Close waits for an actor's answer (see statsUntil).
func afterGrace() (<-chan struct{}, *time.Timer) {
	ch := make(chan struct{})
	return ch, time.AfterFunc(CloseGrace, func() { close(ch) })
}

// CloseStuckGrace is how long Close with a ctx that never ends waits, once
// every lease is back, for dials, token mints, health checks and closes
// still in flight.
const CloseStuckGrace = time.Second

// closePollEvery is how often a Close without a deadline looks whether
// every lease is back.
const closePollEvery = 10 * time.Millisecond

// ErrCloseAbandoned is the cause in a *CloseError when Close, with a ctx that
// never ends, stopped waiting for work its dependencies did not finish.
var ErrCloseAbandoned = errors.New("idpool: dependencies did not finish within CloseStuckGrace")

// CloseError is returned by a Close that did not see everything closed: it
// says what it left behind. Forced connections were closed by force while
// leased; Closing connections had not finished closing (a driver's Close or
// a BeforeClose hook still running, or a connection closed by force whose
// Close waits for an operation of its lease still inside it: see Close, it
// counts in both); Dialing dials and Minting token mints were abandoned,
// and Checking connections were in a health or token check, or in a
// PrepareConn hook whose Acquire had given up. Their pools close whatever
// those return when it returns.
type CloseError struct {
	Forced, Closing, Dialing, Minting, Checking int
	// Err is the ctx's error, or ErrCloseAbandoned.
	Err error
	// Unanswered: the manager or a pool actor did not answer Close within
	// CloseGrace: user code inside it (a Logger handler that blocks) held
	// it up, or there were more pools (thousands) than Close could hear
	// from in time. The counts then miss its figures: each is a floor.
	Unanswered bool
}

// ForcedCloseError is the former name of CloseError.
//
// Deprecated: use CloseError.
type ForcedCloseError = CloseError

func (e *CloseError) left() int { return e.Closing + e.Dialing + e.Minting + e.Checking }

// Error implements error.
func (e *CloseError) Error() string {
	var b strings.Builder
	// Unanswered, every count is a floor: say so where each is read, not
	// only at the end (a reader who stops at "0 closed by force" would
	// believe it).
	atLeast := ""
	if e.Unanswered {
		atLeast = "at least "
	}
	fmt.Fprintf(&b, "idpool: Close returned before everything closed (%v): %s%d leased connections closed by force", e.Err, atLeast, e.Forced)
	if e.left() > 0 || e.Unanswered {
		fmt.Fprintf(&b, "; left in flight: %s%d connections closing, %d dials, %d token mints, %d health or token checks",
			atLeast, e.Closing, e.Dialing, e.Minting, e.Checking)
	}
	if e.Unanswered {
		b.WriteString("; an actor did not answer within CloseGrace (user code inside it, such as a Logger handler that blocks, or more pools than it could hear from in time): the counts miss its figures")
	}
	return b.String()
}

// Unwrap returns the ctx's error or ErrCloseAbandoned.
func (e *CloseError) Unwrap() error { return e.Err }
