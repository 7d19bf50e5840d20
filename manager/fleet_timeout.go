package manager

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// FleetTimeoutError is the error of an acquire that timed out (or was
// cancelled) while its pool's dial waited for a fleet permit (Config.Fleet):
// the fleet was at its cap, or the budget could not be reached. It says so,
// with the budget's figures at that moment, and wraps the *TimeoutError, so
// it still matches ErrAcquireTimeout and context.DeadlineExceeded (or
// context.Canceled), and errors.As finds the *TimeoutError. To tell, the
// acquire asks the manager actor, for at most CloseGrace: an actor held by
// user code (a Logger handler that blocks) leaves it the plain *TimeoutError.
type FleetTimeoutError struct {
	// Timeout is the acquire's timeout, as it would be without a fleet.
	Timeout *TimeoutError
	// Fleet is the budget's state when the acquire ended; zero when the
	// budget does not implement SessionBudgetStats.
	Fleet FleetStats
	// DialsWaiting counts this process's dials held at the fleet gate.
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
// waiting for its answer at most CloseGrace.
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
			return err
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
