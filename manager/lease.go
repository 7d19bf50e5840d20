package manager

import (
	"context"
	"database/sql/driver"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/idpool/idpool/messages"
	"github.com/idpool/idpool/tokens"
)

// Lease is one checked-out connection, and the capability to use it. Use it
// from one goroutine at a time (a second operation while one is in flight
// fails with ErrLeaseBusy) and hand it back exactly once, with Release or
// Close; later Releases do nothing, and every later call on its Conn, or on
// a statement, transaction or result set reached from it, fails with
// ErrLeaseReleased without touching the connection.
//
// A Lease not from Acquire (a zero Lease, declared or &Lease{}, or a nil
// *Lease) answers every call as a released lease does, rather than with a
// nil-pointer panic, as database/sql's and pgx's zero values fail with an
// error: WithRaw, and every call on its Conn, fails with ErrLeaseReleased
// (its Conn's ResetSession also matches driver.ErrBadConn, and its IsValid
// is false), Key is "", Raw is nil, and Release and Close do nothing.
type Lease struct {
	m    *Manager
	pool *actor.PID
	raw  driver.Conn
	conn Conn
	// acquire and release are the messages this lease's acquire and release
	// send, allocated with the lease so that an acquire costs one allocation.
	// acquire.Discriminator is the lease's pool key's discriminator.
	acquire messages.Acquire
	release messages.Release
	// tx is the transaction begun through Conn and not yet finished.
	tx *trackedTx
	// facade is the Connector that opened the lease for database/sql, whose
	// calls must carry the lease's identity.
	facade *Connector
	// lastCtx is the ctx of the latest operation; see touched.
	lastCtx context.Context
	// state is the guard's word (see guard.go): ended, an operation in
	// flight, a Release waiting for it, broken, cut, and the direct
	// grant's outcome. It sits with stmts so that the Lease stays in the
	// 256-byte size class: the acquire's one allocation does not grow.
	state atomic.Uint32
	// stmts counts the statements prepared through Conn and not closed; a
	// facade connection with none can be rebound at a hand-over.
	stmts int32
	// open lists the result sets open on the lease, newest first, linked
	// through rows.next. It changes only inside the guard, and Release
	// reads it once no operation can run, so it needs no lock of its own.
	open *rows
	// wake is closed by the operation a Release waits for; set by that
	// Release before it publishes stWaiting.
	wake chan struct{}
	// grantedAt (monotonicNow) is set only with Config.MetricsUseTime.
	grantedAt int64
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
// the lease. A nil *Lease's is a Conn of no lease, which answers as a
// released lease's (see Lease).
func (l *Lease) Conn() *Conn {
	if l == nil {
		return new(Conn)
	}
	return &l.conn
}

// Raw returns the driver's own connection, for driver-specific calls. It is
// the one way past the lease guard: calls made on it are neither checked
// nor tracked, and nothing stops them after Release. Prefer WithRaw; if you
// keep Raw's value, finish any transaction begun on it, and stop using it,
// before Release. A nil *Lease has none: nil.
func (l *Lease) Raw() driver.Conn {
	if l == nil {
		return nil
	}
	return l.raw
}

// WithRaw runs f on the driver's own connection inside the lease guard: it
// fails with ErrLeaseReleased once the lease has ended and with
// ErrLeaseBusy while another operation is in flight, and Release waits for
// f as for any operation. f must not keep the connection.
func (l *Lease) WithRaw(ctx context.Context, f func(driver.Conn) error) error {
	if ctx == nil {
		return nilContextError("Lease.WithRaw")
	}
	if err := l.enterAs(ctx); err != nil {
		return err
	}
	defer l.exit()
	l.touched(ctx)
	w := l.watchCall(ctx)
	defer w.Stop()
	err := f(l.raw)
	if err == nil {
		// f may have swallowed the error of a call that failed before
		// sending, and with it the reset (see ResetTracker).
		l.unseenCalls()
	}
	return l.note(ctx, err)
}

// Key returns the pool key the lease came from; "" for a Lease not from
// Acquire, which came from no pool.
func (l *Lease) Key() tokens.Key {
	if l.ended() {
		return ""
	}
	return tokens.NewKey(l.m.cfg.Server, l.acquire.Discriminator)
}

// Release hands the connection back. err is the last error the caller saw
// using it: nil or an application error (a failed statement) keeps the
// connection; a broken-connection error (see IsBroken) closes it. On a kept
// connection Release first rolls back a transaction left open and resets the
// session; if that fails (or the driver panics in its Rollback,
// ResetSession or IsValid, a panic Release keeps to itself), or the Dialer
// is a TxReporter that reports a transaction still open (one begun as SQL,
// which Release cannot roll back), the connection is closed instead.
//
// From the moment Release begins, the guard refuses every new operation on
// the lease. An operation still in flight (another goroutine's) is waited
// for up to OperationWait; if it is still running then, the connection is
// treated as broken and handed back, to be closed, by that operation when it
// returns: nothing rolls back or resets underneath it. A result set still
// open is closed first, as database/sql closes one, and the connection is
// then closed rather than reset. On a nil or zero Lease (not from Acquire)
// Release does nothing.
//
// The rollback, the Close of a result set left open and the reset run on
// the caller's goroutine (driver.Tx.Rollback and driver.Rows.Close take no
// ctx; ResetSession gets the Manager's, which only Close ends), and a
// driver reads the rest of a result set's reply, and the rollback's, under
// the query's ctx or the transaction's. go-mssqldb does no I/O in
// ResetSession, and drivers/postgres bounds the round trip it sometimes
// makes there (its DISCARD ALL fallback), so a rollback or a result set
// left open is what can hang on a server that stopped answering. With a
// Dialer that is an Aborter (drivers/sqlserver's and drivers/postgres's)
// and CancelGrace on, each is bounded by CancelGrace from the moment
// Release begins it, whatever the ctx the driver waits under (the query's
// or the BeginTx's; context.Background() too): then its transport is cut,
// the Close or the rollback fails at once and the connection is closed,
// never reused (see watchLeft). A result set left open on a CtxBounded
// Dialer's connection (drivers/postgres's) is cut at once instead: its
// reply is not read (see closeLeftRows). Without such a Dialer, or with
// CancelGrace off, nothing bounds them but the driver: one that hangs there
// holds Release for as long, as database/sql's own release would be held.
// go-mssqldb's own Close of a result set gives up on a silent server after
// 5 s, twice. When Release gave up waiting for an
// operation (above), the result sets left open are closed, and the
// connection handed back, on a goroutine of their own once that operation
// returns, so that its caller is not held by another query's result set.
func (l *Lease) Release(err error) {
	if l.ended() {
		return // nil or zero: not from Acquire, nothing to hand back
	}
	s, ok := l.end()
	if !ok {
		return
	}
	if s&stBusy != 0 {
		if s, ok = l.awaitIdle(); !ok {
			return // the operation in flight hands the connection back
		}
	}
	// Once the Manager is closing the connection is closed anyway, and may
	// already have been by a forced Close: do not touch it again.
	broken := s&(stBroken|stCut) != 0 || IsBroken(err) || l.m.life.Err() != nil ||
		ctxEnded(l.lastCtx) || l.open != nil
	if !broken {
		if l.enterEnded() {
			broken = !l.reset() || !l.afterRelease()
			l.exitEnded()
		} else {
			broken = true
		}
	}
	l.handBack(broken)
}

// handBack tells the pool the lease is over; broken closes the connection.
// It runs once no operation can start or is running (Release's, or the
// last operation's when Release gave up waiting for it), and first closes
// the result sets left open (see closeLeftRows), inside the Manager's
// operation gate: a forced Close waits for it as for an operation. Once a
// forced Close has begun the gate refuses, and the result sets are left to
// it instead (see abandonLeftRows).
func (l *Lease) handBack(broken bool) {
	if l.open != nil {
		if l.enterEnded() {
			l.closeLeftRows()
			l.exitEnded()
		} else {
			l.abandonLeftRows()
		}
	}
	l.release.Broken = broken
	l.m.root.Send(l.pool, &l.release)
	if l.grantedAt != 0 {
		l.m.metrics.used(l.m, l.acquire.Identity.Kind(), l.acquire.Discriminator, l.grantedAt)
	}
}

// discard hands the connection back to be closed, unused by the caller.
func (l *Lease) discard() {
	if _, ok := l.end(); ok {
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
// what the caller left open (or, for a transaction the driver reports still
// open past that, one begun as SQL, refuse: see TxReporter), then let the
// driver reset the session.
// go-mssqldb does no I/O in ResetSession (it flags the next request for
// sp_reset_connection), and neither does drivers/postgres as a rule (it
// sends its reset ahead of the next request); when drivers/postgres must
// fall back to DISCARD ALL, that round trip has a deadline of its own. So
// the call gets the Manager's lifetime context (cancelled by Close) rather
// than a timer per release here.
//
// A driver that panics here has left the session in a state nobody knows:
// the connection is closed, and the panic goes no further. Let through, it
// would unwind Release after the lease ended and before the pool heard of
// it, and the connection's slot would stay taken for good.
func (l *Lease) reset() (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	if tx := l.tx; tx != nil {
		l.tx = nil
		if !l.rollbackLeft(tx) {
			return false
		}
	}
	if l.txLeftOpen() {
		return false // a transaction begun as SQL: see TxReporter
	}
	if r, ok := l.raw.(driver.SessionResetter); ok {
		ctx := l.m.resetCtx
		if ctx == nil {
			ctx = l.m.life
		}
		if err := r.ResetSession(ctx); err != nil {
			return false
		}
		l.sessionReset()
	}
	if v, ok := l.raw.(driver.Validator); ok && !v.IsValid() {
		return false
	}
	return true
}

// rollbackLeft rolls back the transaction the caller left open, and reports
// whether the session is clean. Drivers finish a transaction under its
// BeginTx's ctx (go-mssqldb and pgx's stdlib do), which may never end
// (context.Background(), what most callers pass), and driver.Tx.Rollback
// takes none: against a server that stopped answering the rollback would
// hold Release, and the lease's slot, for good. So it is bounded as the
// Close of a result set left open is (see watchLeft): CancelGrace from now,
// whatever that ctx, the transport is cut, the rollback fails at once, and
// the connection is closed rather than reused. A BeginTx ctx that ends
// meanwhile changes nothing: the bound is already counted from Release.
func (l *Lease) rollbackLeft(tx *trackedTx) (ok bool) {
	w := l.watchLeft(leftTx)
	defer func() {
		if w.Stop() {
			ok = false // cut: even a rollback that reported success left a dead transport
		}
	}()
	return tx.raw.Rollback() == nil
}
