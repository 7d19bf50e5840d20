package decide

import (
	"errors"
	"time"
)

var errStepBeforeAdvance = errors.New("decide: Manager.Step before Advance: the effects from Ready are still being carried out")

// Step feeds in, which happened at now, to the manager's decisions; the
// effects accumulate until Ready. It panics if the effects handed out by
// the last Ready have not been handed back with Advance.
func (m *Manager) Step(now time.Time, in Input) {
	if m.handedOut {
		panic(errStepBeforeAdvance)
	}
	switch in := in.(type) {
	case Acquire:
		m.acquire(in)
	case RetireRequest:
		m.retireRequest(in)
	case RouteClosed:
		m.routeClosed(in)
	case Drained:
		m.drained(in)
	case PermitRequest:
		m.permitRequest(in)
	case PermitReturn:
		m.permitReturn(in)
	case StealRefused:
		m.stealRefused(in)
	case WithdrawPermit:
		m.withdrawPermit(in)
	case Close:
		m.close()
	case ForceClose:
		m.forceClose()
	default:
		panic("decide: Manager.Step: unknown input")
	}
}

// Ready hands out the effects decided since the last Advance, in order.
func (m *Manager) Ready() []Effect {
	m.handedOut = true
	return m.out
}

// Advance tells the manager the effects from Ready have been carried out.
func (m *Manager) Advance() {
	clear(m.out)
	m.out = m.out[:0]
	m.handedOut = false
}
