package manager

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// FleetTimeoutError is the error of an acquire that timed out (or was
// cancelled) while its pool's dial waited for a fleet permit (Config.Fleet):
// the fleet was at its cap, or the budget could not be reached. It says so,
// with the budget's figures at that moment, and wraps the *TimeoutError, so
// it still matches ErrAcquireTimeout and context.DeadlineExceeded (or
// context.Canceled), and errors.As finds the *TimeoutError. To tell, the
// acquire asks the manager actor, for at most CloseGrace. Should it not
// answer by then (user code inside it, a Logger handler that blocks, or a
// machine too loaded to schedule it), the pool's own figures decide: with
// no MaxTotal of the Config's, a dial of the pool waiting for a permit
// waits for the fleet's, and DialsWaiting counts that pool's alone;
// otherwise the acquire gets the plain *TimeoutError.
type FleetTimeoutError struct {
	// Timeout is the acquire's timeout, as it would be without a fleet.
	Timeout *TimeoutError
	// Fleet is the budget's state when the acquire ended; zero when the
	// budget does not implement SessionBudgetStats.
	Fleet FleetStats
	// DialsWaiting counts this process's dials held at the fleet gate (the
	// pool's alone when the manager actor did not answer in time).
	DialsWaiting int
}

// Error implements error.
func (e *FleetTimeoutError) Error() string {
	what := "timed out"
	if e.Timeout.Canceled {
		what = "cancelled"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "idpool: acquire %s waiting for a fleet session permit for pool %s (", what, e.Timeout.Key.Redacted())
	f := e.Fleet
	if f.Budget != "" {
		fmt.Fprintf(&b, "%s: this process held %d of cap %d, the fleet %d at the last read", f.Budget, f.Held, f.Cap, f.FleetHeld)
		if !f.LeaseValid {
			b.WriteString(", its lease not valid: the budget's store unreachable or the lease lost")
		}
		b.WriteString("; ")
	}
	fmt.Fprintf(&b, "%d dials waiting for the fleet; pool max size %d, %d waiting)", e.DialsWaiting, e.Timeout.MaxSize, e.Timeout.Waiters)
	return b.String()
}

// Unwrap returns the *TimeoutError.
func (e *FleetTimeoutError) Unwrap() error { return e.Timeout }

// fleetWaitQuery asks the fleet gate whether a pool has a dial waiting for
// a fleet permit.
type fleetWaitQuery struct {
	pool  string // the pool's PID id
	reply chan fleetWaitAnswer
}

type fleetWaitAnswer struct {
	pool    bool // the pool has a dial waiting at the gate
	waiting int  // dials waiting at the gate in all
}

// fleetTimeout turns the timeout of an acquire whose pool has a dial waiting
// for a fleet permit into a *FleetTimeoutError; any other error is returned
// as it is. It asks the manager actor (only after a timeout, with a fleet),
// waiting for its answer at most CloseGrace, and then reads the pool's own
// figures (poolAwaitedTheFleet).
func (m *Manager) fleetTimeout(disc string, err error) error {
	var te *TimeoutError
	if m.cfg.Fleet == nil || !errors.As(err, &te) {
		return err
	}
	r := m.routes.get(disc)
	if r == nil {
		return err
	}
	reply := make(chan fleetWaitAnswer, 1)
	m.root.Send(m.pid, &fleetWaitQuery{pool: r.pid.Id, reply: reply})
	// The actor answers at once unless user code inside it (a Logger
	// handler that blocks) holds it up: the acquire's ctx has ended, so it
	// waits at most CloseGrace more, as Close does for the actors' figures,
	// and otherwise returns the plain timeout. (It waited without bound,
	// for as long as the handler blocked.) The reply channel is buffered:
	// a late answer blocks nobody.
	var a fleetWaitAnswer
	select {
	case a = <-reply:
	default:
		t := time.NewTimer(CloseGrace)
		defer t.Stop()
		select {
		case a = <-reply:
		case <-t.C:
			a = m.poolAwaitedTheFleet(te)
		}
	}
	if !a.pool {
		return err
	}
	fe := &FleetTimeoutError{Timeout: te, DialsWaiting: a.waiting}
	if s := fleetStatsOf(m.cfg.Fleet); s != nil {
		fe.Fleet = *s
	}
	return fe
}

// poolAwaitedTheFleet answers for a manager actor that did not answer in
// time, from what the pool reported as the acquire left its queue: its
// dials waiting for a permit. Those wait for the fleet's only when the
// Config set no MaxTotal (withDefaults then sets the largest, which the
// permit book always grants); with a MaxTotal they may wait for its
// permit, and the answer is no, as it was before the pool's figures were
// read (a TimeoutError that says "fleet" must be sure of it).
func (m *Manager) poolAwaitedTheFleet(te *TimeoutError) fleetWaitAnswer {
	if m.cfg.MaxTotal != math.MaxInt || te.Pool == nil || te.Pool.AwaitingPermit == 0 {
		return fleetWaitAnswer{}
	}
	return fleetWaitAnswer{pool: true, waiting: te.Pool.AwaitingPermit}
}
