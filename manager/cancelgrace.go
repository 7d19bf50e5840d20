package manager

import (
	"context"
	"database/sql/driver"
	"log/slog"

	"github.com/idpool/idpool/internal/panicdesc"
	"github.com/idpool/idpool/internal/pastctx"
)

// A call past its ctx. database/sql and the drivers stop a call when its
// ctx ends, but a driver may then wait for the server: go-mssqldb sends an
// attention and waits up to 5 s, twice, for the server to confirm it, so
// against a server that stopped answering (a hung instance, a network black
// hole, a failover in progress) a query with a 100 ms deadline returns 5 to
// 10 s later, holding its caller, its lease and its pool's slot. Npgsql
// bounds the same wait with its Cancellation Timeout. Here a call still
// running Config.CancelGrace after its ctx ended has its connection's
// transport cut under it by the Dialer (an Aborter), so every read and write
// on it fails at once and the call returns; the lease is then broken, and
// Release closes the connection. The pool's own health checks are bounded
// the same way (actors.ActorConfig.Abort), and so are the Close Release
// makes of a result set left open and the rollback it makes of a
// transaction left open, from Release on (see watchLeft).
//
// Only a Dialer that is an Aborter pays for this (drivers/sqlserver's; pgx
// honours its ctx itself, by a deadline on its socket, so drivers/postgres's
// Dialer, an Aborter for the waits no ctx bounds, says so: see CtxBounded),
// and only for calls whose ctx can end: each such call registers one
// callback on its ctx, and removes it when it returns; a query and the
// calls on its result set
// (Next, NextResultSet, Close: the driver reads the rest of the reply under
// the query's ctx) share one, removed when the result set closes (or is
// refused for its lease's end) or at its lease's Release.

// Aborter is implemented by a Dialer that can cut the network transport of a
// connection it opened, under a call in flight, so that every read and
// write on it fails at once. idpool calls it for a call still running
// Config.CancelGrace after its ctx ended, for the Close of a result set
// left open or the rollback of a transaction left open still running
// CancelGrace after Release began it, and for a
// lease a forced Close takes back; never for an idle connection or one
// leased to someone else, and it closes the connection afterwards.
type Aborter interface {
	// AbortTransport cuts conn's transport and reports whether it knew
	// conn. It must not block and must be safe to call concurrently with
	// the connection's use; conn is not closed by it.
	AbortTransport(conn driver.Conn) bool
}

// CtxBounded is an Aborter whose driver ends every call once its ctx ends,
// on its own (pgx: a deadline on its socket, at once), so that watching its
// calls would only cost: when EndsCallsAtCtx reports true, idpool registers
// nothing per call and cuts the transport only where no ctx bounds the
// wait: the Close Release makes of a result set left open and the
// rollback it makes of a transaction left open (see watchLeft), a health
// check past its grace, and a forced Close. Such a driver must also run no
// reader of its own for a result set: a result set left open at Release is
// then cut at once rather than read to its end (see closeLeftRows).
// drivers/postgres's Dialer is one.
type CtxBounded interface {
	Aborter
	EndsCallsAtCtx() bool
}

// watchCall starts bounding a call made on l with ctx, or returns nil when
// nothing can bound it: no ctx or one that never ends, a Dialer that is no
// Aborter, or CancelGrace off. The caller stops it (nil-safe) before its
// exit from the guard, by a defer after exit's, so that it runs first even
// when the driver panics: the watch's Stop waits for a cut under way, so no
// cut reaches the connection once the call has left the guard (after which
// another lease may hold it). A result set's calls (Next, NextResultSet,
// Close) are watched through the query's registration (trackCalls), which
// cuts only while one of them, or the query, is in flight: so it cannot cut
// a later call made with a live ctx, nor a connection after Release.
func (l *Lease) watchCall(ctx context.Context) *pastctx.Calls {
	c := l.trackCalls(ctx)
	c.Enter()
	return c
}

// trackCalls starts bounding a query made on l with ctx and the calls on
// its result set, with one registration on ctx (pastctx.Calls), or returns
// nil when nothing can bound them (see watchCall). The query's caller
// stops it unless it hands it to the result set, which stops it at Close.
func (l *Lease) trackCalls(ctx context.Context) *pastctx.Calls {
	ab := l.m.aborter
	if ab == nil || ctx == nil || !l.m.watchCalls {
		return nil
	}
	return pastctx.Track(ctx, l.m.cfg.CancelGrace, l.m.armTimer, func() func() { return l.cut(ab) })
}

// enterCalls begins a call under calls' ctx (ctx): watched by calls when
// it can (in), else, once calls' grace has passed with no call in flight,
// on its own (own). leaveCalls ends it; defer it after the guard's exit.
func (l *Lease) enterCalls(calls *pastctx.Calls, ctx context.Context) (own *pastctx.Calls, in bool) {
	if calls.Enter() {
		return nil, true
	}
	return l.watchCall(ctx), false
}

// leaveCalls ends the call enterCalls began.
func leaveCalls(calls *pastctx.Calls, own *pastctx.Calls, in bool) {
	if in {
		calls.Exit()
		return
	}
	own.Stop()
}

// cut marks the lease cut first, so that the Release that follows closes
// the connection even when the call returned no error, then has the
// Dialer cut its transport, and returns its log lines, to log once the cut
// counts as done (see pastctx.Cut): the call, its Release and the watch's
// Stop wait for the cut, not for a Logger's handler, which may block (a
// stalled log shipper) but must not hold up the bound CancelGrace
// promises. The Dialer's panic is logged and goes no further: it would
// take the timer's goroutine, and the process, with it.
func (l *Lease) cut(ab Aborter) (then func()) {
	l.markCut()
	return l.cutLines(l.tryAbort(ab), "idpool: a call outlived its ctx by CancelGrace; cutting its connection")
}

// cutLines returns what logs the lines of a cut of l's connection: the
// Dialer's panic, if AbortTransport panicked (panicked), then the warning
// msg; nil without a Logger. The lease's fields are read now, while the
// cut holds the lease: the lines are logged after the lease may have gone
// back to its pool.
func (l *Lease) cutLines(panicked any, msg string) func() {
	log := l.m.cfg.Logger
	if log == nil {
		return nil
	}
	pool, conn, grace := l.Key().Redacted(), l.release.ConnID, l.m.cfg.CancelGrace
	return func() {
		if panicked != nil {
			logAbortPanic(log, pool, panicked)
		}
		log.Warn(msg, "pool", pool, "conn", conn, "cancel_grace", grace)
	}
}

// abort has the Dialer cut the lease's transport; a panic there is logged
// and goes no further.
func (l *Lease) abort(ab Aborter) {
	if p := l.tryAbort(ab); p != nil && l.m.cfg.Logger != nil {
		logAbortPanic(l.m.cfg.Logger, l.Key().Redacted(), p)
	}
}

// tryAbort has the Dialer cut the lease's transport, and returns what it
// panicked with (nil if it did not): the panic goes no further.
func (l *Lease) tryAbort(ab Aborter) (panicked any) {
	defer func() { panicked = recover() }()
	ab.AbortTransport(l.raw)
	return nil
}

// logAbortPanic logs that the Dialer panicked in AbortTransport, naming the
// panic's type and not its value, which may quote a secret.
func logAbortPanic(log *slog.Logger, pool string, panicked any) {
	log.Error("idpool: the Dialer panicked in AbortTransport", "pool", pool, "panic", panicdesc.Describe(panicked))
}

// markCut records on the lease that its transport was cut: it can serve
// nothing more, and Release closes it.
func (l *Lease) markCut() { l.state.Or(stCut) }
