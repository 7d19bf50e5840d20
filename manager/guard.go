package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync/atomic"
	"time"

	"github.com/idpool/idpool/internal/guardhook"
	"github.com/idpool/idpool/messages"
	"github.com/idpool/idpool/tokens"
)

// The lease guard. A lease is a capability: every call that reaches its
// physical connection (Conn's methods, the statements, transactions and
// result sets reached from it, and the facade's use of all of them) first
// passes enter and ends with exit. enter refuses when the lease has ended
// (Release, Close, a discard, or a forced Manager.Close), when another
// operation is in flight on it, and, for facade calls, when the call's ctx
// carries another identity than the lease's. Nothing else in the package
// holds the driver connection where a caller can reach it; see
// docs/ARCHITECTURE.md, "The isolation guard".

// Errors of the lease guard; they work with errors.Is. None of them names a
// token or a DSN.
var (
	// ErrLeaseReleased: the call came after the lease was released (Release,
	// Close, or a connection handed back unused). Its connection may already
	// serve another caller, so the call did not run.
	ErrLeaseReleased = errors.New("idpool: the lease was already released; its connection may serve another caller now, so the call did not run (acquire a new lease)")
	// ErrLeaseBusy: another operation was still in flight on the same
	// lease. A lease serves one operation at a time, like the connection
	// under it; share a lease between goroutines only with your own
	// synchronisation.
	ErrLeaseBusy = errors.New("idpool: another operation is still in flight on this lease; a lease serves one operation at a time, so the call did not run")
	// ErrIdentityMismatch: the call's ctx carries another identity than the
	// one the connection (a *sql.Tx, *sql.Conn or *sql.Stmt bound to it)
	// was opened for. The call did not run.
	ErrIdentityMismatch = errors.New("idpool: the call's ctx carries another identity than the connection's (a transaction, *sql.Conn or statement bound to another identity); the call did not run")
	// ErrLeaseForceClosed: Manager.Close gave up waiting and closed the
	// lease's connection by force (cut, and closed once no operation of
	// the lease is inside it). It also matches ErrLeaseReleased and
	// ErrClosed.
	ErrLeaseForceClosed error = &guardError{
		msg: "idpool: the lease's connection was closed by a forced Manager.Close; the call did not run",
		is:  [2]error{ErrLeaseReleased, ErrClosed},
	}
)

// OperationWait bounds how long Release waits for an operation still in
// flight on the lease, started by another goroutine. After it the
// connection is treated as broken: the operation hands it back to be closed
// when it returns, and nothing rolls back or resets the session underneath
// it. A forced Manager.Close waits for operations in flight only until the
// end of its CloseGrace.
const OperationWait = 2 * time.Second

// guardError is a guard refusal that matches more than one sentinel, e.g.
// driver.ErrBadConn so that database/sql retries on another connection,
// together with the reason it was refused.
type guardError struct {
	msg string
	is  [2]error
}

func (e *guardError) Error() string { return e.msg }

// Is reports whether target is one of the errors e stands for.
func (e *guardError) Is(target error) bool { return target == e.is[0] || target == e.is[1] }

// Refusals that make database/sql retry on another connection (they match
// driver.ErrBadConn) while saying why: ResetSession answers them when
// database/sql hands over a connection the new caller may not use.
var (
	errHandoverOtherIdentity error = &guardError{
		msg: "idpool: database/sql handed over a connection of another identity; refused (database/sql retries on a connection of the right identity)",
		is:  [2]error{driver.ErrBadConn, ErrIdentityMismatch},
	}
	errHandoverReleased error = &guardError{
		msg: "idpool: database/sql reused a connection whose lease was already released; refused (database/sql retries on another connection)",
		is:  [2]error{driver.ErrBadConn, ErrLeaseReleased},
	}
	// errShellParked: a call reached a facade shell that gave its lease
	// back when database/sql took it, and that database/sql has not handed
	// over since (ResetSession): a careless caller kept the driver
	// connection. As driver.ErrBadConn, database/sql discards the shell
	// (and retries a db-level call). A shell a waiting call gave up, which
	// database/sql hands on without a reset, never parks (see
	// Conn.IsValid).
	errShellParked error = &guardError{
		msg: "idpool: the connection's lease was already released and database/sql has not handed it over since; refused (database/sql retries on another connection)",
		is:  [2]error{driver.ErrBadConn, ErrLeaseReleased},
	}
	// errLeaseCut refuses an operation on a lease whose transport the
	// Dialer cut (a call outlived its ctx by CancelGrace): the connection
	// is gone, and the driver may not know it yet (a call that finished
	// just as the cut landed), nor learn it from a write: drivers/sqlserver's
	// cut transport takes what go-mssqldb writes without sending it, so
	// that go-mssqldb drains its reader. Refused here, before the driver,
	// the operation provably sent nothing, which is what driver.ErrBadConn
	// says: database/sql retries it on another connection where it can.
	errLeaseCut error = &guardError{
		msg: "idpool: the lease's connection was cut (a call outlived its ctx by CancelGrace); refused before anything was sent: release the lease",
		is:  [2]error{driver.ErrBadConn},
	}
	// errHandoverNoIdentity reads as tokens.ErrNoIdentity, which is what
	// the caller sees once database/sql stops retrying.
	errHandoverNoIdentity error = &guardError{
		msg: tokens.ErrNoIdentity.Error(),
		is:  [2]error{driver.ErrBadConn, tokens.ErrNoIdentity},
	}
)

// The lease's state word. Every transition is a compare-and-swap, so the
// guard needs no lock and allocates nothing on the acquire path.
const (
	// stEnded: Release, Close or a discard has begun; nothing may start.
	stEnded uint32 = 1 << iota
	// stBusy: an operation is running on the connection.
	stBusy
	// stWaiting: Release waits for that operation; exit closes l.wake.
	stWaiting
	// stHandoff: Release gave up waiting; exit hands the connection back,
	// broken.
	stHandoff
	// stCut: a call outlived its ctx by CancelGrace and the Dialer cut the
	// connection's transport (see cancelgrace.go); Release closes it.
	stCut
	// stBroken: an operation failed in a way that leaves the wire state
	// unknown (see note); Release closes the connection.
	stBroken
	// stGranted and stAwaitReply are the direct grant's two outcomes (see
	// direct.go), each set once, before the caller has the lease.
	stGranted
	stAwaitReply
	// stCloseAfter: a forced Close found the operation in flight inside
	// the connection and left its Close to it: exit sends the pool
	// CloseAfterOperation (see direct.go).
	stCloseAfter
)

// enter claims the lease for one operation on its connection. On success
// the caller must call exit when the connection is no longer in use.
func (l *Lease) enter() error { return l.enterOp(true) }

// enterToClose is enter for the Close of a result set: a cut lease lets it
// through, since it sends no new request (it ends a reply already under
// way), and go-mssqldb's Close is what ends its response reader there.
func (l *Lease) enterToClose() error { return l.enterOp(false) }

// enterOp is enter, refusing a cut lease if refuseCut.
func (l *Lease) enterOp(refuseCut bool) error {
	if l.ended() {
		return ErrLeaseReleased // nil or zero: not from Acquire (see Lease)
	}
	if guardhook.SkipLeaseGuard.Load() {
		return nil // the simulation's injected bug: no check at all
	}
	for {
		s := l.state.Load()
		switch {
		case s&stEnded != 0:
			return l.endedErr()
		case s&stBusy != 0:
			return ErrLeaseBusy
		case refuseCut && s&stCut != 0:
			return errLeaseCut
		}
		if l.state.CompareAndSwap(s, s|stBusy) {
			break
		}
	}
	if !l.m.gate.enter() {
		l.exit0()
		return ErrLeaseForceClosed
	}
	return nil
}

// enterAs is enter for a call made with ctx: on a facade connection it also
// refuses a ctx that carries another identity than the lease's.
func (l *Lease) enterAs(ctx context.Context) error {
	if err := l.enter(); err != nil {
		return err
	}
	if l.facade != nil && !guardhook.SkipLeaseGuard.Load() {
		if err := l.CheckIdentity(ctx); err != nil {
			l.exit()
			return err
		}
	}
	return nil
}

// exit ends the operation enter admitted. Every operation defers it, so
// that it runs even when the operation panics.
//
// A facade operation that panics (a driver.Valuer the driver runs as it
// encodes the arguments, as pgx and go-mssqldb do, or the driver itself)
// ends its lease here, broken, before the panic goes on: database/sql
// recovers nothing on its query and exec paths, so it never gives that
// connection back, and the lease would hold its pool's slot for the life of
// the Manager. A handful of such panics (recovered by an HTTP server, say)
// made every call of the identity wait until its deadline, and
// Manager.Close wait for leases that never came back. The panic itself
// goes on unchanged. recover works here only because exit is the deferred
// call itself.
func (l *Lease) exit() {
	if l.state.Load()&stBusy == 0 {
		return // admitted by the injected bug, which skips enter
	}
	if l.facade != nil {
		if p := recover(); p != nil {
			l.markBroken()
			l.m.gate.exit()
			l.exit0()
			l.Release(nil)
			panic(p)
		}
	}
	l.m.gate.exit()
	l.exit0()
}

// exit0 clears stBusy, has the connection closed if a forced Close left
// that to the operation, wakes a Release waiting for it, and finishes that
// Release if it gave up waiting.
func (l *Lease) exit0() {
	for {
		s := l.state.Load()
		if l.state.CompareAndSwap(s, s&^(stBusy|stWaiting|stHandoff|stCloseAfter)) {
			if s&stCloseAfter != 0 {
				// Nothing of this lease is inside the connection now.
				l.m.root.Send(l.pool, &messages.CloseAfterOperation{ConnID: l.release.ConnID, Conn: l.raw})
			}
			if s&stWaiting != 0 {
				close(l.wake)
			}
			if s&stHandoff != 0 {
				if l.open != nil {
					// Closing another query's result set may take as
					// long as its ctx allows: not on this caller's time.
					go l.handBack(true)
				} else {
					l.handBack(true)
				}
			}
			return
		}
	}
}

// enterEnded admits the work an ended lease's hand-back does on its
// connection (the rollback and reset, the Close of result sets left open),
// and a PrepareConn hook's on a lease not yet handed out, as an operation:
// counted by the Manager's gate, so that a forced Close waits for it, and
// busy, so that the Close it forces after its grace is left to that work
// (see CloseAfterOperation). It reports false once a
// forced Close has begun: the work must not start. stBusy is set before
// the gate is asked, as in enter, so that a forced close that finds the
// lease idle has already refused the gate to it.
func (l *Lease) enterEnded() bool {
	l.state.Or(stBusy)
	if !l.m.gate.enter() {
		l.exit0()
		return false
	}
	return true
}

// exitEnded ends what enterEnded admitted.
func (l *Lease) exitEnded() {
	l.m.gate.exit()
	l.exit0()
}

// endedErr says why an ended lease refuses.
func (l *Lease) endedErr() error {
	if l.m.gate.forced.Load() {
		return ErrLeaseForceClosed
	}
	return ErrLeaseReleased
}

// markBroken records that the connection must be closed, not reused, once
// the lease ends; broken reports it.
func (l *Lease) markBroken()  { l.state.Or(stBroken) }
func (l *Lease) broken() bool { return l.state.Load()&stBroken != 0 }

// CheckIdentity returns ErrIdentityMismatch when ctx carries another
// identity than the lease's, and nil when it carries the lease's or none (a
// ctx with no identity runs on the lease it is used with). The facade's
// calls pass it inside the guard: database/sql checks a db-level call's
// identity when it picks the connection (Connect, or ResetSession on
// reuse), and a *sql.Tx or *sql.Conn is bound to its lease. A driver
// package's own lease type (drivers/postgres) calls it for the same rule.
// Resolving a token-keyed identity may mint a token, bounded as an
// Acquire's key lookup is: by ctx, or AcquireTimeout when ctx has no
// deadline. A Lease not from Acquire (nil or zero) fails it with
// ErrLeaseReleased when ctx carries an identity. A token handed in (tokens.StaticTokenIdentity) that Acquire
// would refuse for its expiry fails the check with Acquire's error, even
// though its key may be the lease's (that of a TokenFuncIdentity whose
// first token it was), unless the lease was granted to that very
// credential (tokens.Identity.SameCredential): its holder goes on with the
// transaction it began, as a ctx carrying no identity would, when its token
// crosses TokenThreshold or expires. So does a token-keyed identity whose
// own newest token expired since (which Acquire would make mint first, see
// tokens.Identity.KeyCurrent): the lease's own credential passes without a
// mint.
func (l *Lease) CheckIdentity(ctx context.Context) error {
	if ctx == nil {
		return nilContextError("Lease.CheckIdentity")
	}
	id, ok := tokens.IdentityFrom(ctx)
	if !ok {
		return nil
	}
	if l.ended() {
		return ErrLeaseReleased // nil or zero: no identity to match
	}
	if _, handedIn := id.HandedInExpiry(); (handedIn || !id.KeyCurrent(l.m.keyTokenExpired)) && id.SameCredential(l.acquire.Identity) {
		// The lease's own handed-in token, or own token-keyed
		// credential: its key is the lease's, and its token was judged
		// when the lease was granted. (Only those: the SQL login and
		// the zero Identity share their nil credential, and their key
		// is always current.)
		return nil
	}
	disc, err := l.m.lookupKey(ctx, id)
	if err != nil {
		return err
	}
	if disc == l.acquire.Discriminator {
		return nil
	}
	return ErrIdentityMismatch
}

// end marks the lease ended and returns the state it found, or false if it
// had ended already.
func (l *Lease) end() (uint32, bool) {
	for {
		s := l.state.Load()
		if s&stEnded != 0 {
			return s, false
		}
		if l.state.CompareAndSwap(s, s|stEnded) {
			return s, true
		}
	}
}

// awaitIdle waits up to OperationWait for the operation in flight to end.
// It returns the state after it ended, or false when it gave up: the
// operation then hands the connection back, broken, when it returns.
func (l *Lease) awaitIdle() (uint32, bool) {
	l.wake = make(chan struct{})
	for {
		s := l.state.Load()
		if s&stBusy == 0 {
			return s, true
		}
		if l.state.CompareAndSwap(s, s|stWaiting) {
			break
		}
	}
	timeout := make(chan struct{})
	t := l.m.cfg.Clock.AfterFunc(OperationWait, func() { close(timeout) })
	select {
	case <-l.wake:
		t.Stop()
		return l.state.Load(), true
	case <-timeout:
	}
	for {
		s := l.state.Load()
		if s&stBusy == 0 {
			return s, true // ended just now
		}
		if l.state.CompareAndSwap(s, s|stHandoff) {
			return s, false
		}
	}
}

// opGate counts the operations in flight across a Manager, so that a
// forced Close can refuse new ones and wait, bounded, for those running
// before it closes connections under their holders.
type opGate struct {
	_       [64]byte // keep the hot counter off the Manager's other fields' line
	ops     atomic.Int64
	forced  atomic.Bool
	started atomic.Bool
	done    atomic.Bool
	drained chan struct{}
	_       [64]byte
}

// enter counts an operation unless a forced close has begun. Sequentially
// consistent atomics make it exact: either enter sees forced, or force
// sees its count.
func (g *opGate) enter() bool {
	g.ops.Add(1)
	if g.forced.Load() {
		g.exit()
		return false
	}
	return true
}

func (g *opGate) exit() {
	if g.ops.Add(-1) == 0 && g.forced.Load() && g.done.CompareAndSwap(false, true) {
		close(g.drained)
	}
}

// force refuses every later operation and waits, until expired is closed,
// for those in flight. The connections of any still running are then
// closed by force: cut under them when the Dialer can cut, and closed as
// each operation leaves (see Lease.exit0), never under it. Manager.Close
// passes the end of its CloseGrace, the one grace it gives everything once
// its ctx has ended, so that the whole of Close stays within its ctx plus
// CloseGrace.
func (g *opGate) force(expired <-chan struct{}) {
	if !g.started.CompareAndSwap(false, true) {
		return
	}
	g.drained = make(chan struct{})
	g.forced.Store(true)
	if g.ops.Load() == 0 && g.done.CompareAndSwap(false, true) {
		close(g.drained)
	}
	select {
	case <-g.drained:
	case <-expired:
	}
}
