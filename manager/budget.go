package manager

import (
	"slices"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/idpool/idpool/messages"
)

// SessionBudget is a budget of physical sessions shared with other processes
// (a fleet of replicas), set in Config.Fleet. Package fleet implements it on
// etcd; the manager never imports etcd, so programs without a fleet do not
// link it.
//
// The manager calls TryAcquire, Want and Release from inside its actor, so
// none of them may block or do I/O: a budget keeps permits at hand and fetches
// or returns them in its own goroutines, and reports back through the
// function given to Subscribe. One that blocks holds up the whole Manager
// (every pool's miss and Close) for as long as it blocks. A panic of any
// method is contained: a TryAcquire that panics has taken nothing, and a
// Want, Release or Subscribe that panics is as if not called.
type SessionBudget interface {
	// TryAcquire takes one permit the budget has at hand, or says false.
	TryAcquire() bool
	// Want tells the budget how many permits the manager is waiting for
	// (beyond those it took), so that it fetches them; 0 when none.
	Want(n int)
	// Release gives back one permit taken by TryAcquire, once the
	// connection it covered has finished closing or its dial failed.
	Release()
	// Subscribe registers the function the budget calls, from its own
	// goroutines and never from inside the other methods, when a TryAcquire
	// may now succeed, when the fleet is at its cap (Full), or when the
	// process holds more permits than it may keep (Shed). A budget serves
	// one Manager, which subscribes once.
	Subscribe(func(BudgetSignal))
}

// BudgetSignal is what a SessionBudget reports to its manager.
type BudgetSignal struct {
	// Shed is how many permits the process holds beyond what it may keep
	// (its lease was lost and not all could be taken again): the manager
	// closes that many connections, idle ones first.
	Shed int
	// Full says the fleet has no permit to give: the manager serves its
	// waiting pools by closing idle connections of other pools here, as it
	// does at MaxTotal.
	Full bool
}

// fleetSignal carries a BudgetSignal into the manager actor.
type fleetSignal struct{ BudgetSignal }

// fleetGate puts Config.Fleet in front of the manager's permit book. Every
// physical connection holds a local permit (MaxTotal, or an unlimited book
// when only a fleet is set) and a fleet permit, from before its dial until
// its close has finished.
//
// Order: local first, then fleet. A pool's PermitRequest goes to the book as
// before; the book's PermitGrant is held here until a fleet permit is taken.
// A local permit held while waiting is idle only for this process, and no
// other dial here could use it meanwhile, since every dial here needs a fleet
// permit too and they are handed out in the same arrival order. The other
// order would hold a fleet permit, which other replicas could use, while
// waiting for a local one (at MaxTotal, possibly for a steal).
//
// It is the manager actor's middleware (Props receiver and sender
// middleware), so it runs inside the actor and needs no lock, and the permit
// book is unaware of it.
type fleetGate struct {
	budget SessionBudget
	// pending holds pools granted a local permit, waiting for a fleet one,
	// in arrival order.
	pending []*actor.PID
	// fills marks the requests of pending (same index) made only for a
	// pool's MinSize (PermitRequest.Fill; see refuseFills). filling: the
	// PermitRequest being handled is one (the book grants a fill at once
	// or refuses it, so its grant is sent while the gate handles it).
	fills   []bool
	filling bool
	// held counts fleet permits per pool (by PID id), to choose whom to
	// ask when permits must be shed.
	held map[string]int
	// asked counts the StealIdle sent to shed permits and not yet answered.
	asked int
	// bookSteals counts, per pool (PID id), the steals the permit book
	// asked of it and has not settled: what the book sends (StealIdle,
	// StealCancelled) and what settles one there (a PermitReturn or
	// StealRefused of that pool; a drained pool owes nothing). The pool
	// counts the steals of both in one debt, paid by any close it begins
	// or permit it hands back unused (actors.Pool.closeConn,
	// returnUnusedPermits), each a permit back: so a permit back pays one
	// steal, and a refusal answers one, not one of each: the book's if it
	// has one out there (it settles it whatever the gate does), or else
	// one of the gate's (asked). And a local permit the gate hands back
	// for the pool (withdraw, denyPending), which the book takes as paying
	// the pool's steal, calls that steal off at the pool (returnFor).
	bookSteals map[string]int
	// withdrawing is the pool whose WithdrawPermit is being handled, when
	// the book had no request of it queued: its request waiting here is
	// withdrawn instead (see withdraw).
	withdrawing *actor.PID
	// onlyQueued: the WithdrawPermit being handled is for a request kept
	// only for MinSize (WithdrawPermit.Fill): one waiting here stays, as a
	// fill would, and is marked one in fills (see markFill).
	onlyQueued bool
	// subscribed: the gate gave the budget its signal function. The gate
	// outlives restarts of the actor, and its function sends to the
	// actor's PID, which a restart keeps: subscribing again at each
	// Started would register one more function with a budget that keeps
	// them all.
	subscribed bool
	// signalTo is where that function sends, nil once the actor stopped: a
	// budget shared with other Managers keeps calling it after this one
	// closed, and should not keep the closed Manager's actor system alive
	// through it. Atomic: the budget calls the function from its own
	// goroutines.
	signalTo atomic.Pointer[signalTarget]
	// withdrew counts, per pool (PID id), requests withdrawn from pending
	// because their waiter gave up (WithdrawPermit.GaveUp) that no
	// fleetWaitQuery has asked about yet: a caller whose acquire timed out
	// asks only after its pool withdrew the request made for it. A request
	// withdrawn because its waiter was served otherwise is not counted: no
	// one asks about it, and a later timeout of the pool for another reason
	// (its MaxSize) would be blamed on the fleet. A pool's entry goes when
	// it drains.
	withdrew map[string]int
}

// signalTarget is the manager actor a budget's signals go to.
type signalTarget struct {
	root *actor.RootContext
	self *actor.PID
}

// fleetProps installs the gate, or nothing when no fleet is configured.
func fleetProps(b SessionBudget) actor.PropsOption {
	if b == nil {
		return func(*actor.Props) {}
	}
	g := &fleetGate{budget: safeBudget{b}, held: make(map[string]int), withdrew: make(map[string]int), bookSteals: make(map[string]int)}
	return func(p *actor.Props) {
		actor.WithReceiverMiddleware(g.receive)(p)
		actor.WithSenderMiddleware(g.send)(p)
	}
}

// send holds back the book's PermitGrant until a fleet permit is taken.
func (g *fleetGate) send(next actor.SenderFunc) actor.SenderFunc {
	return func(c actor.SenderContext, target *actor.PID, env *actor.MessageEnvelope) {
		if _, ok := env.Message.(*messages.PermitGrant); ok && len(g.pending) == 0 && g.budget.TryAcquire() {
			g.held[target.Id]++
			next(c, target, env)
			return
		} else if ok {
			g.pending = append(g.pending, target)
			g.fills = append(g.fills, g.filling)
			g.budget.Want(len(g.pending))
			return
		}
		switch env.Message.(type) {
		case *messages.StealIdle:
			g.bookSteals[target.Id]++
		case *messages.StealCancelled:
			g.bookSettles(target.Id)
		}
		if w, ok := env.Message.(*messages.PermitWithdrawn); ok && !w.Removed && g.waiting(target.Id) >= 0 {
			if g.onlyQueued {
				// A request kept only for MinSize stays, but as the
				// fill it now is: refused at the fleet's cap, never
				// paid for with another pool's connection.
				g.markFill(target.Id)
				next(c, target, env)
				return
			}
			// The book had none of the pool's requests queued, but one
			// waits here: withdraw takes it and answers instead.
			g.withdrawing = target
			return
		}
		next(c, target, env)
	}
}

func (g *fleetGate) receive(next actor.ReceiverFunc) actor.ReceiverFunc {
	return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
		switch msg := env.Message.(type) {
		case *actor.Started:
			if !g.subscribed {
				g.subscribed = true
				g.signalTo.Store(&signalTarget{root: c.ActorSystem().Root, self: c.Self()})
				g.budget.Subscribe(func(s BudgetSignal) {
					if to := g.signalTo.Load(); to != nil {
						to.root.Send(to.self, &fleetSignal{s})
					}
				})
			}
		case *actor.Stopped:
			g.signalTo.Store(nil)
		case *fleetSignal:
			g.serve(c)
			n := msg.Shed
			if msg.Full {
				g.refuseFills(c, next)
				n += len(g.pending)
			}
			g.steal(c, n, msg.Shed > 0)
			return
		case *messages.PermitRequest:
			g.filling = msg.Fill
			next(c, env)
			g.filling = false
			return
		case *messages.PermitReturn:
			if g.held[msg.Pool.Id]--; g.held[msg.Pool.Id] <= 0 {
				delete(g.held, msg.Pool.Id)
			}
			if !g.bookSettles(msg.Pool.Id) && g.asked > 0 {
				g.asked--
			}
			g.budget.Release()
			next(c, env)
			g.serve(c)
			return
		case *fleetWaitQuery:
			a := fleetWaitAnswer{pool: g.waiting(msg.pool) >= 0, waiting: len(g.pending)}
			if n := g.withdrew[msg.pool]; !a.pool && n > 0 {
				// Withdrawn because its caller gave up: it was waiting
				// here, and counts among the dials waiting.
				a.pool, a.waiting = true, a.waiting+1
				if n == 1 {
					delete(g.withdrew, msg.pool)
				} else {
					g.withdrew[msg.pool] = n - 1
				}
			}
			msg.reply <- a
			return
		case *messages.WithdrawPermit:
			g.onlyQueued = msg.Fill
			next(c, env)
			g.onlyQueued = false
			g.withdraw(c, next, msg.GaveUp)
			return
		case *messages.PoolDrained:
			if msg.Pool != nil {
				delete(g.withdrew, msg.Pool.Id)
				delete(g.bookSteals, msg.Pool.Id)
			}
		case *messages.StealRefused:
			// The book's steal, if one is out there (the book settles it
			// whatever the gate does), or else one of the gate's asks.
			if !g.bookSettles(msg.Pool.Id) && g.asked > 0 {
				g.asked--
			}
		case *messages.CloseManager:
			next(c, env)
			g.denyPending(c, next)
			return
		}
		next(c, env)
	}
}

// serve hands fleet permits to the pools waiting, in order.
func (g *fleetGate) serve(c actor.ReceiverContext) {
	served := false
	for len(g.pending) > 0 && g.budget.TryAcquire() {
		pool := g.pending[0]
		g.pending[0] = nil
		g.pending, g.fills = g.pending[1:], g.fills[1:]
		g.held[pool.Id]++
		c.ActorSystem().Root.Send(pool, &messages.PermitGrant{})
		served = true
	}
	if served {
		g.budget.Want(len(g.pending))
	}
}

// steal asks the pools holding the most fleet permits to close connections
// (idle ones now, busy ones when released), n in all, counting the asks still
// unanswered so that repeated signals do not close more than needed. Pools
// waiting for a permit are asked only when shedding (anyPool): asking them
// to serve themselves would close their own next connection for nothing.
func (g *fleetGate) steal(c actor.ReceiverContext, n int, anyPool bool) {
	waiting := make(map[string]bool, len(g.pending))
	if !anyPool {
		for _, p := range g.pending {
			waiting[p.Id] = true
		}
	}
	asks := make(map[string]int)
	for ; g.asked < n; g.asked++ {
		best, bestN := "", 0
		for id, h := range g.held {
			if left := h - asks[id]; !waiting[id] && (left > bestN || left == bestN && left > 0 && id < best) {
				best, bestN = id, left
			}
		}
		if bestN == 0 {
			return
		}
		asks[best]++
		c.ActorSystem().Root.Send(actor.NewPID(c.Self().Address, best), &messages.StealIdle{})
	}
}

// waiting returns the index of the youngest request of the pool (by PID id)
// waiting here for a fleet permit, or -1.
func (g *fleetGate) waiting(pool string) int {
	for i := len(g.pending) - 1; i >= 0; i-- {
		if g.pending[i].Id == pool {
			return i
		}
	}
	return -1
}

// markFill marks the youngest request of the pool (by PID id) waiting here
// that is not yet a fill as one: its pool keeps it only for MinSize now
// (WithdrawPermit.Fill), so refuseFills refuses it at the fleet's cap. The
// answers carry no request id and the pool counts them, so which of its
// requests is marked does not matter, only how many are.
func (g *fleetGate) markFill(pool string) {
	for i := len(g.pending) - 1; i >= 0; i-- {
		if g.pending[i].Id == pool && !g.fills[i] {
			g.fills[i] = true
			return
		}
	}
}

// withdraw finishes a pool's WithdrawPermit that the book could not honour
// (it had none of the pool's requests queued: send held back its answer)
// when one waits here: that request leaves pending, its local permit goes
// back to the book as denyPending gives it back, and the pool hears
// Removed true. Any grant the gate sent the pool before went first.
//
// Steals the gate asked for at the fleet's cap (asked) are not called off:
// they may be for shedding (a lost lease), which must not be undone, and
// the gate does not tell those apart from the ones asked for pending.
func (g *fleetGate) withdraw(c actor.ReceiverContext, next actor.ReceiverFunc, gaveUp bool) {
	pool := g.withdrawing
	if pool == nil {
		return
	}
	g.withdrawing = nil
	i := g.waiting(pool.Id)
	if i < 0 {
		// Unreachable: only this actor changes pending.
		c.ActorSystem().Root.Send(pool, &messages.PermitWithdrawn{})
		return
	}
	g.pending, g.fills = slices.Delete(g.pending, i, i+1), slices.Delete(g.fills, i, i+1)
	if gaveUp {
		g.withdrew[pool.Id]++
	}
	g.budget.Want(len(g.pending))
	c.ActorSystem().Root.Send(pool, &messages.PermitWithdrawn{Removed: true})
	g.returnFor(c, next, pool)
}

// refuseFills answers the MinSize fills waiting here, once the fleet says
// it is full, as the book answers a fill at MaxTotal: FillRefused, their
// local permits back to the book. Such a pool asks again later (and a
// waiter it has makes a request of its own, which may take an idle
// connection). Counted as dials waiting at the fleet's cap, fills had the
// gate take other pools' idle connections for them: under a cap below the
// pools' MinSizes, a pool so robbed, below its own MinSize, asked for a
// fill in turn and took one back, and the pools dialled each other's
// connections away for ever (thousands of logins a second).
func (g *fleetGate) refuseFills(c actor.ReceiverContext, next actor.ReceiverFunc) {
	refused := false
	for i := 0; i < len(g.pending); {
		if !g.fills[i] {
			i++
			continue
		}
		pool := g.pending[i]
		g.pending, g.fills = slices.Delete(g.pending, i, i+1), slices.Delete(g.fills, i, i+1)
		c.ActorSystem().Root.Send(pool, &messages.FillRefused{})
		g.returnFor(c, next, pool)
		refused = true
	}
	if refused {
		g.budget.Want(len(g.pending))
	}
}

// denyPending, once the manager is closing, refuses the pools still waiting
// for a fleet permit and gives their local permits back to the book.
func (g *fleetGate) denyPending(c actor.ReceiverContext, next actor.ReceiverFunc) {
	for _, pool := range g.pending {
		c.ActorSystem().Root.Send(pool, &messages.PermitDenied{})
		g.returnFor(c, next, pool)
	}
	g.pending, g.fills = nil, nil
	g.budget.Want(0)
}

// returnFor hands the book back the local permit of a request of pool that
// leaves the gate unserved. The book counts it, as any permit from the
// pool, as paying a steal it asked of the pool, while the pool handed
// nothing back and still owes it: that steal is called off at the pool
// (the room it was for came from this permit), before anything the book
// sends it for this return. Kept, the debt would close the pool's next
// released connection for nobody.
func (g *fleetGate) returnFor(c actor.ReceiverContext, next actor.ReceiverFunc, pool *actor.PID) {
	if g.bookSettles(pool.Id) {
		c.ActorSystem().Root.Send(pool, &messages.StealCancelled{})
	}
	next(c, actor.WrapEnvelope(&messages.PermitReturn{Pool: pool}))
}

// bookSettles counts off one steal the book asked of the pool (by PID id),
// as the book does on the pool's PermitReturn or StealRefused, and says
// whether there was one.
func (g *fleetGate) bookSettles(pool string) bool {
	n := g.bookSteals[pool]
	switch {
	case n == 0:
		return false
	case n == 1:
		delete(g.bookSteals, pool)
	default:
		g.bookSteals[pool] = n - 1
	}
	return true
}

// safeBudget contains the panics of a SessionBudget, whose methods run
// inside the manager actor: a panic there would unwind the message it was
// handling, and a PermitGrant or PermitReturn lost that way keeps a permit
// of the MaxTotal book, and a pool's dial waiting for it, for good. A
// TryAcquire that panics has taken nothing (the dial waits for the next
// signal, as at the fleet's cap); a Want, Release or Subscribe that
// panics is dropped, which costs the budget's own count and nothing here.
type safeBudget struct{ next SessionBudget }

func (b safeBudget) TryAcquire() (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return b.next.TryAcquire()
}

func (b safeBudget) Want(n int) {
	defer func() { _ = recover() }()
	b.next.Want(n)
}

func (b safeBudget) Release() {
	defer func() { _ = recover() }()
	b.next.Release()
}

func (b safeBudget) Subscribe(f func(BudgetSignal)) {
	defer func() { _ = recover() }()
	b.next.Subscribe(f)
}
