package manager

import (
	"database/sql/driver"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/idpool/idpool/messages"
)

// The states of Lease.handoff (see messages.DirectGrant). A Lease starts
// open; the pool moves it to granted when it grants while handling the
// acquire, the caller to waiting when its send returned without a grant.
// Neither moves it again.
const (
	handoffOpen uint32 = iota
	handoffGranted
	handoffWaiting
)

// directGrant is a Lease seen by its pool as a messages.DirectGrant. A type
// of its own keeps Grant out of Lease's methods: only the pool handling the
// lease's acquire holds this view.
type directGrant Lease

// directOf returns l's DirectGrant view; it allocates nothing.
func directOf(l *Lease) messages.DirectGrant { return (*directGrant)(l) }

// Grant implements messages.DirectGrant. The fields are written before the
// compare-and-swap that publishes them, and only while the caller has not
// begun to wait: a caller that waits reads nothing here, and reads the
// Reply the pool sends instead.
func (d *directGrant) Grant(conn driver.Conn, connID uint64, pool *actor.PID) bool {
	l := (*Lease)(d)
	if l.handoff.Load() != handoffOpen {
		return false
	}
	l.raw, l.pool, l.release.ConnID = conn, pool, connID
	return l.handoff.CompareAndSwap(handoffOpen, handoffGranted)
}

// takeDirect is the caller's half: called once its send has returned, it
// reports whether the pool has already granted directly. Otherwise the
// caller is marked as waiting, and the pool answers on the Reply channel.
func (l *Lease) takeDirect() bool {
	return !l.handoff.CompareAndSwap(handoffOpen, handoffWaiting)
}
