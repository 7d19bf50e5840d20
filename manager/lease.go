package manager

import (
	"context"
	"database/sql/driver"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/idpool/idpool/messages"
	"github.com/idpool/idpool/tokens"
)

// Lease is one checked-out connection. Use it from one goroutine at a time,
// and hand it back exactly once, with Release or Close; later calls do
// nothing.
type Lease struct {
	m    *Manager
	disc string
	pool *actor.PID
	raw  driver.Conn
	conn Conn
	// acquire and release are the messages this lease's acquire and release
	// send, allocated with the lease so that an acquire costs one allocation.
	acquire messages.Acquire
	release messages.Release
	// tx is the transaction begun through Conn and not yet finished.
	tx *trackedTx
	// facade is the Connector that opened the lease for database/sql, whose
	// calls must carry the lease's identity.
	facade *Connector
	// broken is set once an operation fails in a way that leaves the wire
	// state unknown.
	broken bool
	// lastCtx is the ctx of the latest operation; see touched.
	lastCtx context.Context
	done    atomic.Bool
	// grantedAt is set only when metrics are on, for use_time.
	grantedAt time.Time
}

// granted fills in the lease from the pool's answer.
func (l *Lease) granted(r messages.Reply) {
	l.pool, l.raw = r.Pool, r.Conn
	l.release.ConnID = r.ConnID
	l.conn.lease = l
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
func (l *Lease) Key() tokens.Key { return tokens.NewKey(l.m.cfg.Server, l.disc) }

// Release hands the connection back. err is the last error the caller saw
// using it: nil or an application error (a failed statement) keeps the
// connection; a broken-connection error (see IsBroken) closes it. On a kept
// connection Release first rolls back a transaction left open and resets the
// session; if that fails the connection is closed instead.
func (l *Lease) Release(err error) {
	if !l.done.CompareAndSwap(false, true) {
		return
	}
	// Once the Manager is closing the connection is closed anyway, and may
	// already have been by a forced Close: do not touch it again.
	broken := l.broken || IsBroken(err) || l.m.life.Err() != nil || l.lastCtx != nil && l.lastCtx.Err() != nil
	if !broken {
		broken = !l.reset() || !l.afterRelease()
	}
	l.release.Broken = broken
	l.m.root.Send(l.pool, &l.release)
	if !l.grantedAt.IsZero() {
		l.m.metrics.recordUse(l.disc, time.Since(l.grantedAt))
	}
}

// discard hands the connection back to be closed, unused by the caller.
func (l *Lease) discard() {
	if l.done.CompareAndSwap(false, true) {
		l.release.Broken = true
		l.m.root.Send(l.pool, &l.release)
	}
}

// Close releases the lease, keeping the connection unless an operation on it
// broke it. It implements io.Closer (and driver.Conn's Close via Conn).
func (l *Lease) Close() error {
	l.Release(nil)
	return nil
}

// reset makes the connection safe for the next user, off the actor: roll back
// what the caller left open, then let the driver reset the session. The
// drivers idpool supports do no I/O in ResetSession (go-mssqldb flags the
// next request, pgx checks its socket), so it gets the Manager's lifetime
// context rather than a timer of its own per release.
func (l *Lease) reset() bool {
	if tx := l.tx; tx != nil {
		l.tx = nil
		if err := tx.raw.Rollback(); err != nil {
			return false
		}
	}
	if r, ok := l.raw.(driver.SessionResetter); ok {
		if err := r.ResetSession(l.m.life); err != nil {
			return false
		}
	}
	if v, ok := l.raw.(driver.Validator); ok && !v.IsValid() {
		return false
	}
	return true
}
