package manager

import (
	"database/sql/driver"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/idpool/idpool/messages"
)

// The direct grant's outcome is kept in the lease's state word (guard.go),
// which is zero until then: the pool sets stGranted when it grants while
// handling the acquire, the caller stAwaitReply when its send returned
// without a grant. Whichever comes first wins, and neither changes again.

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
	if l.state.Load() != 0 {
		return false
	}
	l.raw, l.pool, l.release.ConnID = conn, pool, connID
	return l.state.CompareAndSwap(0, stGranted)
}

// CloseAfterOperation implements messages.DirectGrant for a forced close of
// the lease's connection, once its transport is cut (when the Dialer can
// cut and CancelGrace is on): if an operation is in flight on the lease it
// marks the lease so that the operation, as it leaves, has the pool close
// the connection (see exit0), and reports true; otherwise nothing of the
// lease is inside the connection, nor can enter it (the forced Close has
// shut the Manager's gate), and the pool closes it.
func (d *directGrant) CloseAfterOperation() bool {
	l := (*Lease)(d)
	for {
		s := l.state.Load()
		if s&stBusy == 0 {
			return false
		}
		if l.state.CompareAndSwap(s, s|stCloseAfter) {
			return true
		}
	}
}

// takeDirect is the caller's half: called once its send has returned, it
// reports whether the pool has already granted directly. Otherwise the
// caller is marked as waiting, and the pool answers on the Reply channel.
func (l *Lease) takeDirect() bool {
	return !l.state.CompareAndSwap(0, stAwaitReply)
}
