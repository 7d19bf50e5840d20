package actors

import (
	"errors"
	"time"
)

// errStepBeforeAdvance is the panic of a Step made while the effects of the
// last Ready are still being carried out.
var errStepBeforeAdvance = errors.New("actors: Pool.Step before Advance: the effects from Ready are still being carried out")

// Step is the pool's one entry point (StepHit and StepHitRelease are
// shortcuts for two of its cases): it feeds in, which happened at now, to
// the state machine. The effects it decides on accumulate until the driver
// takes them with Ready.
//
// Step panics if the effects handed out by the last Ready have not been
// handed back with Advance: the driver is still carrying them out, and a
// Step now (from inside an effect, say) would overwrite the list it is
// reading. Raft's RawNode has the same rule for its Ready.
func (p *Pool) Step(now time.Time, in Input) {
	if p.handedOut {
		// No fmt with in here: it would make every input escape to the
		// heap, and the hit path allocate.
		panic(errStepBeforeAdvance)
	}
	// What withdrawExcess compares with after the input; only a pool under
	// a global cap withdraws, so the others skip it on their hit path.
	var gaveUp uint64
	var waiterNeed int
	if p.cfg.NeedsPermit {
		gaveUp, waiterNeed = p.stats.timeouts+p.stats.cancels, p.waiterNeed()
	}
	switch in := in.(type) {
	case Acquire:
		p.acquire(now, in.ID, in.ReplyTo, in.Timeout, in.Holder)
	case Release:
		p.release(now, in.Conn, in.Broken)
	case Cancel:
		p.cancel(now, in.ID, in.Timeout)
	case DialDone:
		p.dialDoneEpoch(now, in.Epoch, in.Conn, in.Token, in.Err)
	case MintDone:
		p.mintDone(now, in.Token, in.Err)
	case ValidateDone:
		p.validateDone(now, in.Conn, in.OK)
	case CloseDone:
		p.closeDone(now, in.Conn)
	case Tick:
		p.tick(now)
	case Start:
		p.start(now)
	case Close:
		p.close(now)
	case ForceClose:
		p.forceClose(now)
	case PermitGranted:
		p.permitGranted(now)
	case PermitRefused:
		p.permitRefused(now)
	case PermitDenied:
		p.permitDenied(now)
	case StealIdle:
		p.stealIdle(now)
	case PermitWithdrawn:
		p.permitWithdrawn(now, in.Removed)
	case StealCancelled:
		p.stealCancelled()
	case NewCredential:
		p.newCredential(now)
	case Evict:
		p.evict(now, in.Done)
	default:
		// Unreachable: Input is sealed.
		panic("actors: Pool.Step: unknown input")
	}
	if p.awaitingPermit > 0 {
		p.withdrawExcess(int(p.stats.timeouts+p.stats.cancels-gaveUp), waiterNeed)
	}
	if p.unused() && p.waiters.holdsMemory() {
		// Nothing out and no one waiting: the queue's memory kept for the
		// next wait goes back, so an idle pool holds none.
		p.waiters.trim()
	}
}

// Ready hands out the effects decided since the last Advance, oldest first.
// The driver must carry out every one (see the package doc for what each
// asks), then call Advance. Until then the slice is the driver's: no Step
// may run, so nothing can overwrite it.
func (p *Pool) Ready() []Effect {
	p.handedOut = true
	return p.effects()
}

// Advance tells the pool that the effects from Ready have been carried out;
// their slice is reused by a later Step, of this pool or another.
func (p *Pool) Advance() {
	p.returnEffects()
	p.handedOut = false
}

// unused reports that the pool has nothing leased out and no one waiting:
// what it kept to make the next wait allocate nothing goes back.
func (p *Pool) unused() bool { return p.busy == 0 && p.waiters.live == 0 }
