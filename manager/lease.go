package manager

import (
	"context"
	"database/sql/driver"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/idpool/idpool/messages"
	"github.com/idpool/idpool/tokens"
)

// Lease is one checked-out connection. Use it from one goroutine at a time,
// and hand it back exactly once, with Release or Close; later calls do
// nothing.
type Lease struct {
	m      *Manager
	key    tokens.Key
	pool   *actor.PID
	connID uint64
	raw    driver.Conn
	conn   Conn
	// tx is the transaction begun through Conn and not yet finished.
	tx *trackedTx
	// facade is the Connector that opened the lease for database/sql, whose
	// calls must carry the lease's identity.
	facade *Connector
	// broken is set once an operation fails in a way that leaves the wire
	// state unknown.
	broken bool
	done   atomic.Bool
}

func newLease(m *Manager, key tokens.Key, r messages.Reply) *Lease {
	l := &Lease{m: m, key: key, pool: r.Pool, connID: r.ConnID, raw: r.Conn}
	l.conn.lease = l
	return l
}

// Conn returns the leased connection. It forwards every optional
// database/sql/driver interface of the driver's connection, tracks the
// transaction begun on it, and notes errors that break it. Its Close releases
// the lease.
func (l *Lease) Conn() *Conn { return &l.conn }

// Raw returns the driver's own connection, for driver-specific calls. Work
// done on it directly is not tracked: finish any transaction begun on it
// before Release.
func (l *Lease) Raw() driver.Conn { return l.raw }

// Key returns the pool key the lease came from.
func (l *Lease) Key() tokens.Key { return l.key }

// Release hands the connection back. err is the last error the caller saw
// using it: nil or an application error (a failed statement) keeps the
// connection; a broken-connection error (see IsBroken) closes it. On a kept
// connection Release first rolls back a transaction left open and resets the
// session; if that fails the connection is closed instead.
func (l *Lease) Release(err error) {
	if !l.done.CompareAndSwap(false, true) {
		return
	}
	broken := l.broken || IsBroken(err)
	if !broken {
		broken = !l.reset()
	}
	l.m.root.Send(l.pool, &messages.Release{ConnID: l.connID, Broken: broken})
}

// Close releases the lease, keeping the connection unless an operation on it
// broke it. It implements io.Closer (and driver.Conn's Close via Conn).
func (l *Lease) Close() error {
	l.Release(nil)
	return nil
}

// reset makes the connection safe for the next user, off the actor: roll back
// what the caller left open, then let the driver reset the session.
func (l *Lease) reset() bool {
	ctx, cancel := context.WithTimeout(context.Background(), l.m.cfg.ResetTimeout)
	defer cancel()
	if tx := l.tx; tx != nil {
		l.tx = nil
		if err := tx.raw.Rollback(); err != nil {
			return false
		}
	}
	if r, ok := l.raw.(driver.SessionResetter); ok {
		if err := r.ResetSession(ctx); err != nil {
			return false
		}
	}
	if v, ok := l.raw.(driver.Validator); ok && !v.IsValid() {
		return false
	}
	return true
}
