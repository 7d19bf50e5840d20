package actors

import (
	"context"
	"database/sql/driver"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/idpool/idpool/internal/mailbox"
	"github.com/idpool/idpool/internal/panicdesc"
	"github.com/idpool/idpool/messages"
	"github.com/idpool/idpool/tokens"
)

// ActorConfig is what every pool actor of a manager shares. It is read-only
// once the first pool is spawned.
type ActorConfig struct {
	// Dialer opens the pools' connections and, when it is a ConnCloser,
	// closes them.
	Dialer Dialer
	Clock  Clock
	// Logger is called while the actor handles a message: its handler must
	// not panic (the manager wraps the user's with internal/safelog).
	Logger *slog.Logger
	// BeforeClose, if set, sees each connection just before it is closed.
	BeforeClose func(driver.Conn)
	// Dispatcher runs the actor's mailbox (see manager's inlineDispatcher).
	Dispatcher actor.Dispatcher
	// DialTimeout bounds each dial, MintTimeout each token mint,
	// ValidateTimeout each health check.
	DialTimeout, MintTimeout, ValidateTimeout time.Duration
	// Mint, if set, runs each token mint in place of src.Token (the
	// manager wraps it in a span and a latency metric).
	Mint func(ctx context.Context, key tokens.Key, src tokens.Source) (tokens.Token, error)
	// Manager receives the pools' requests (permits, retirement, drained).
	// Pools are spawned from the root context, not as the manager's
	// children: protoactor's set of children keeps a pointer to every
	// stopped child in its backing array and map, so a retired pool's whole
	// state would stay reachable for the life of the manager. Nil: each
	// actor's parent. It is here, shared, rather than in each Init, so that
	// no pool actor keeps a copy.
	Manager *actor.PID
	// Abort, if set, cuts the network transport of a connection its Dialer
	// opened (manager.Aborter): a health check still running CancelGrace
	// after its ValidateTimeout ended is cut, and fails. Without it a
	// driver may wait well past the check's ctx for a server that stopped
	// answering (go-mssqldb up to 10 s), holding the connection's slot.
	// A connection closed by force while leased (ForceClose) is cut before
	// BeforeClose sees it and it is closed, so that nothing still reading
	// it (see cutForced) reads into memory the driver has handed on.
	Abort       func(driver.Conn) bool
	CancelGrace time.Duration
	// Pool, if set, is the configuration every pool of the manager shares
	// but for its own fields (see NewSharing); pools whose Init matches it
	// keep a pointer to it instead of a copy. It must not change.
	Pool *PoolConfig
}

// Init is the first message a pool actor gets, right after it is spawned:
// which pool it is. One Props then serves every pool of a manager, which
// matters when there are many thousands of identity pools.
type Init struct {
	Pool     PoolConfig
	Identity tokens.Identity
}

// NewProps returns the props that spawn pool actors sharing cfg; send each
// new one an Init first. cfg.Manager (or else its parent) receives
// RetireRequest and PoolDrained from it. Spawned from a root context, a pool
// is supervised by a guardian that resumes it, never restarts it: a restart
// would forget its connections and strand its waiters.
func NewProps(cfg *ActorConfig) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &poolActor{cfg: cfg} },
		actor.WithDispatcher(cfg.Dispatcher), actor.WithMailbox(mailbox.Producer()),
		actor.WithGuardian(resumeStrategy))
}

// resumeStrategy keeps a pool actor and its state whatever escalates to its
// guardian (Receive recovers its own panics, so this is a last resort).
var resumeStrategy = actor.NewOneForOneStrategy(0, 0, func(any) actor.Directive { return actor.ResumeDirective })

// poolActor owns one Pool state machine. Receive never blocks: it steps the
// state machine and carries out the effects, starting a goroutine for each
// blocking call, which reports back by message.
//
// It keeps only what is its own: the actor system's root context, the
// manager's PID and the ctx of the message being handled come from the
// actor.Context when needed, so that poolActor fits 128 bytes (see
// TestPoolFitsItsSizeClass).
type poolActor struct {
	cfg      *ActorConfig
	identity tokens.Identity
	sm       *Pool
	self     *actor.PID
	timer    Timer
	// life cancels the work in flight when the pool closes; nil while none
	// is (see workLife).
	life *workLife
	// waiting holds the ctxs of the acquires queued, oldest first (see
	// cause.go), and acquiring the acquire being handled until it is
	// answered (a grant to it may go to its DirectGrant rather than its Reply
	// channel).
	waiting   []waitingCause
	acquiring *messages.Acquire
}

var tickMsg = &messages.Tick{}

func (a *poolActor) Receive(c actor.Context) {
	defer a.recoverInternal(c)
	if m, ok := c.Message().(*messages.Acquire); ok {
		// Before anything can panic: recoverInternal answers an acquire
		// the step never got to.
		a.acquiring = m
	}
	now := a.cfg.Clock.Now()
	switch m := c.Message().(type) {
	case *messages.Acquire:
		if !m.Identity.SameCredential(a.identity) {
			// The newest credential wins (see tokens.Identity): a pointer
			// compare on the hit path, an update only when it differs.
			a.identity = m.Identity
			a.step(c, now, NewCredential{})
		}
		in := Acquire{ID: m.ID, ReplyTo: m.Reply, Timeout: m.Timeout, Holder: m.Direct}
		if g, ok := a.sm.StepHit(now, in); ok {
			a.answerHit(m, g)
			return
		}
		a.step(c, now, in)
		a.noteWaiting(m)
	case *messages.Release:
		in := Release{Conn: ConnID(m.ConnID), Broken: m.Broken}
		if a.sm.StepHitRelease(now, in) {
			a.dropIdleMemory()
		} else {
			a.step(c, now, in)
		}
	case *messages.Cancel:
		a.step(c, now, Cancel{ID: m.ID, Timeout: m.Timeout})
	case *messages.DialDone:
		defer a.workDone()
		a.step(c, now, DialDone{Conn: m.Conn, Token: m.Token, Err: m.Err, Epoch: m.Epoch})
		if m.Err != nil {
			a.logFailure(c, "idpool: dial failed", m.Err)
		}
	case *messages.MintDone:
		defer a.workDone()
		a.step(c, now, MintDone{Token: m.Token, Err: m.Err})
		if m.Err != nil {
			a.logFailure(c, "idpool: token mint failed", m.Err)
		}
	case *messages.ValidateDone:
		defer a.workDone()
		a.step(c, now, ValidateDone{Conn: ConnID(m.ConnID), OK: m.OK})
	case *messages.CloseDone:
		a.step(c, now, CloseDone{Conn: ConnID(m.ConnID)})
	case *messages.CloseAfterOperation:
		// The pool counted it closing when it was closed by force; only
		// the Close itself was put off (see closeConn).
		a.closeAfterOperation(c, ConnID(m.ConnID), m.Conn)
	case *messages.Tick:
		a.step(c, now, Tick{})
	case *messages.ClosePool, *messages.RetireApproved:
		a.closeLife()
		a.step(c, now, Close{})
	case *messages.PermitGrant:
		a.step(c, now, PermitGranted{})
	case *messages.PermitDenied:
		a.step(c, now, PermitDenied{})
	case *messages.FillRefused:
		a.step(c, now, PermitRefused{})
	case *messages.StealIdle:
		a.step(c, now, StealIdle{})
	case *messages.StealCancelled:
		a.step(c, now, StealCancelled{})
	case *messages.PermitWithdrawn:
		a.step(c, now, PermitWithdrawn{Removed: m.Removed})
	case *messages.ForceClose:
		a.step(c, now, ForceClose{})
	case *messages.Evict:
		a.logger().Info("idpool: evicting pool", "pool", a.sm.cfg.Key.Redacted(), "open", len(a.sm.conns), "busy", a.sm.busy)
		a.step(c, now, Evict{Done: m.Done})
	case *messages.PoolStatsQuery:
		m.Reply <- a.sm.Stats()
	case *Init:
		a.identity = m.Identity
		a.sm = NewSharing(m.Pool, a.cfg.Pool)
		a.step(c, now, Start{})
	case *actor.Started:
		a.self = c.Self()
	case *actor.Stopping:
		if a.timer != nil {
			a.timer.Stop()
		}
		a.closeLife()
	}
}

// recoverInternal keeps the actor and its state if idpool itself panics: a
// restart would forget open connections and strand waiters. Little user
// code runs here (dialers, sources and hooks run in goroutines with their
// own recover; the Logger's handler comes wrapped by the manager so that
// its panics stay in it), so this is a last line of defence. The one that
// does is ActorConfig.Clock, a test's or a simulation's (the manager wraps
// a user's so that it never panics here): what a panic holds is described,
// never printed (it may hold anything), and a panic on the first message,
// before the pool exists, names no pool. The message whose step was cut
// short loses no caller who would wait for good: see answerLost,
// withdrawLost, and the CloseAfterOperation below.
func (a *poolActor) recoverInternal(c actor.Context) {
	if r := recover(); r != nil {
		pool := "(not started)"
		if a.sm != nil {
			pool = a.sm.cfg.Key.Redacted()
		}
		a.logger().ErrorContext(logCtx(c), "idpool: internal error in pool actor", "pool", pool, "panic", panicdesc.Describe(r))
		a.answerLost(c)
		a.withdrawLost(c)
		if m, ok := c.Message().(*messages.CloseAfterOperation); ok {
			// Only the clock read before the switch can have panicked:
			// the Close it starts, the one this connection will ever
			// get, has not begun.
			a.closeAfterOperation(c, ConnID(m.ConnID), m.Conn)
		}
	}
	// An idle pool keeps no acquire (and so no Lease), even if a panic cut
	// the step short.
	a.acquiring = nil
}

// answerLost answers the acquire being handled when a panic cut its step
// short, unless the pool answered it (answered clears acquiring) or holds it
// as a waiter, to answer later. Its caller would otherwise wait for good:
// past its ctx too, since the Cancel it then sends finds nothing to
// withdraw. Its reply channel is empty: nothing answered it.
func (a *poolActor) answerLost(c actor.Context) {
	m := a.acquiring
	if m == nil || m != c.Message() || a.sm != nil && a.sm.waiters.get(m.ID) != nil {
		return
	}
	a.acquiring = nil
	m.Reply <- messages.Reply{Err: ErrInternal}
}

// withdrawLost withdraws the acquire a Cancel names when a panic cut the
// Cancel's step short before it did (the acquire still queued: nothing has
// answered it, so the Cancelled reply is its one). Its caller, whose ctx
// has ended, waits for that reply, and would otherwise wait until a
// connection came free for it, past its ctx. The Cancel step reads no
// time, so a clock that panicked is not asked again. A second panic
// leaves the acquire queued, as before.
func (a *poolActor) withdrawLost(c actor.Context) {
	m, ok := c.Message().(*messages.Cancel)
	if !ok || a.sm == nil || a.sm.waiters.get(m.ID) == nil {
		return
	}
	defer func() { _ = recover() }()
	a.step(c, time.Time{}, Cancel{ID: m.ID, Timeout: m.Timeout})
}

// manager is the PID that receives the pool's requests.
func (a *poolActor) manager(c actor.Context) *actor.PID {
	if a.cfg.Manager != nil {
		return a.cfg.Manager
	}
	return c.Parent()
}

func (a *poolActor) logger() *slog.Logger {
	if a.cfg.Logger != nil {
		return a.cfg.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// step is the driver loop of the package doc: one input in, every effect
// carried out, then Advance. Nothing here steps the pool again: each effect
// either answers a caller, sends a message, or starts a goroutine that
// reports back by message.
func (a *poolActor) step(c actor.Context, now time.Time, in Input) {
	// Advance even if an effect panics (recoverInternal keeps the actor):
	// otherwise every later Step would refuse to run.
	defer a.sm.Advance()
	a.sm.Step(now, in)
	a.run(c, now, a.sm.Ready())
	a.dropIdleMemory()
}

// dropIdleMemory lets go of the wait list's backing array once the pool is
// unused: an idle pool keeps no memory for its next wait.
func (a *poolActor) dropIdleMemory() {
	if len(a.waiting) == 0 && a.waiting != nil && a.sm.unused() {
		a.waiting = nil
	}
}

// run carries out effects, in order. One whose carrying out panics (a
// Clock's AfterFunc that is user code, or a bug of idpool's) loses none of
// those after it: the state machine counts each as under way already (a
// dial in flight, a waiter answered, a close begun), so the rest are
// carried out before the panic goes on to recoverInternal. The hit path
// (answerHit) has no list, and so pays nothing for this.
func (a *poolActor) run(c actor.Context, now time.Time, effects []Effect) {
	done := 0
	defer func() {
		if done == len(effects) {
			return
		}
		r := recover()
		if r == nil {
			return // runtime.Goexit: nothing to carry on with
		}
		a.run(c, now, effects[done+1:])
		panic(r)
	}()
	for ; done < len(effects); done++ {
		a.carryOut(c, now, &effects[done])
	}
}

// carryOut carries out one effect (see the package doc's list).
func (a *poolActor) carryOut(c actor.Context, now time.Time, e *Effect) {
	switch e.Kind {
	case EffGrant:
		if a.grantDirect(e) {
			return
		}
		a.answered(e.AcquireID)
		e.ReplyTo <- messages.Reply{Conn: e.Resource, ConnID: uint64(e.Conn), Pool: a.self, Waited: e.Waited}
	case EffFail:
		a.answered(e.AcquireID)
		e.ReplyTo <- messages.Reply{Err: e.Err}
	case EffCancelled:
		a.answered(e.AcquireID)
		e.ReplyTo <- messages.Reply{Cancelled: true, MaxSize: a.sm.cfg.MaxSize, Waiters: e.Waiters, Err: e.Err}
	case EffDial:
		a.dial(c, e.Token)
	case EffMint:
		a.mint(c)
	case EffValidate:
		a.validate(c, e.Conn, e.Resource)
	case EffClose:
		a.logClose(c, e.Reason)
		a.closeConn(c, e.Conn, e.Resource, e.Reason, e.Holder)
	case EffWake:
		a.wake(c, now, e.At)
	case EffRequestPermit:
		c.Send(a.manager(c), &messages.PermitRequest{Pool: a.self, Fill: e.Fill})
	case EffStealRefused:
		c.Send(a.manager(c), &messages.StealRefused{Pool: a.self})
	case EffReturnPermit:
		c.Send(a.manager(c), &messages.PermitReturn{Pool: a.self})
	case EffWithdrawPermit:
		c.Send(a.manager(c), &messages.WithdrawPermit{Pool: a.self, GaveUp: e.GaveUp, Fill: e.Fill})
	case EffRetire:
		c.Send(a.manager(c), &messages.RetireRequest{Key: a.sm.cfg.Key, Pool: a.self, Seen: e.Seen})
	case EffEvicted:
		e.Evicted <- struct{}{}
		a.logger().Info("idpool: pool evicted", "pool", a.sm.cfg.Key.Redacted())
	case EffDrained:
		// The manager stops this actor once it has read this, so
		// that a Stats query it sent earlier is still answered.
		c.Send(a.manager(c), &messages.PoolDrained{Key: a.sm.cfg.Key, Pool: a.self, Stats: a.sm.Stats()})
	}
}

// grantDirect hands e's connection to the acquire being handled through its
// DirectGrant, if it has one and its caller has not begun to wait on its
// Reply channel (see messages.DirectGrant). Such a grant never queued, so
// its Waited is zero. It reports whether the grant was delivered.
func (a *poolActor) grantDirect(e *Effect) bool {
	m := a.acquiring
	if m == nil || m.Direct == nil || m.ID != e.AcquireID || e.Waited != 0 {
		return false
	}
	if !m.Direct.Grant(e.Resource, uint64(e.Conn), a.self) {
		return false
	}
	a.answered(e.AcquireID)
	return true
}

// answerHit hands StepHit's grant to the acquire m, as run hands an
// EffGrant: through its DirectGrant if its caller has not begun to wait,
// else on its Reply channel. A hit leaves the pool busy, so there is no
// idle pool's memory to give back (see step).
func (a *poolActor) answerHit(m *messages.Acquire, g Grant) {
	if m.Direct != nil && m.Direct.Grant(g.Resource, uint64(g.Conn), a.self) {
		a.acquiring = nil
		return
	}
	a.acquiring = nil
	m.Reply <- messages.Reply{Conn: g.Resource, ConnID: uint64(g.Conn), Pool: a.self}
}

func (a *poolActor) wake(c actor.Context, now, at time.Time) {
	if a.timer != nil {
		a.timer.Stop()
	}
	root, self := c.ActorSystem().Root, a.self
	a.timer = a.cfg.Clock.AfterFunc(at.Sub(now), func() { root.Send(self, tickMsg) })
}
