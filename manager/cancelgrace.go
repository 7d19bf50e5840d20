package manager

import (
	"context"
	"database/sql/driver"
	"runtime"
	"sync/atomic"

	"github.com/idpool/idpool/internal/panicdesc"
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
// Release closes the connection.
//
// Only a Dialer that is an Aborter pays for this (drivers/sqlserver's; pgx
// honours its ctx itself, by a deadline on its socket), and only for calls
// whose ctx can end: each such call registers one callback on its ctx, and
// removes it when it returns (or, for a query, when its result set closes).

// Aborter is implemented by a Dialer that can cut the network transport of a
// connection it opened, under a call in flight, so that every read and
// write on it fails at once. idpool calls it for a call still running
// Config.CancelGrace after its ctx ended, never for an idle connection or
// one leased to someone else, and closes the connection afterwards.
type Aborter interface {
	// AbortTransport cuts conn's transport and reports whether it knew
	// conn. It must not block and must be safe to call concurrently with
	// the connection's use; conn is not closed by it.
	AbortTransport(conn driver.Conn) bool
}

// The states of a callWatch.
const (
	watchArmed uint32 = iota
	watchStopped
	watchCutting
	watchCut
)

// callWatch bounds one call (and the result set it returned) by its ctx and
// CancelGrace. Its state decides between the call's end (stop) and the cut
// (fire), so that a cut never reaches a connection its lease no longer
// uses: stop waits for a cut already under way.
type callWatch struct {
	lease   *Lease
	aborter Aborter
	state   atomic.Uint32
	// unregister removes the callback on the call's ctx.
	unregister func() bool
}

// watchCall starts bounding a call made on l with ctx, or returns nil when
// nothing can bound it: a ctx that never ends, a Dialer that is no Aborter,
// or CancelGrace off. The caller stops it (nil-safe) before its exit from
// the guard, or hands it to the result set the call returned.
func (l *Lease) watchCall(ctx context.Context) *callWatch {
	ab := l.m.aborter
	if ab == nil || ctx.Done() == nil {
		return nil
	}
	w := &callWatch{lease: l, aborter: ab}
	grace, clock := l.m.cfg.CancelGrace, l.m.cfg.Clock
	w.unregister = context.AfterFunc(ctx, func() { clock.AfterFunc(grace, w.fire) })
	return w
}

// fire cuts the transport, unless the call has ended. It marks the lease cut
// first, so that the Release that follows closes the connection even when
// the call returned no error.
func (w *callWatch) fire() {
	if !w.state.CompareAndSwap(watchArmed, watchCutting) {
		return
	}
	l := w.lease
	l.markCut()
	if l.m.cfg.Logger != nil {
		l.m.cfg.Logger.Warn("idpool: a call outlived its ctx by CancelGrace; cutting its connection",
			"pool", l.Key().Redacted(), "conn", l.release.ConnID, "cancel_grace", l.m.cfg.CancelGrace)
	}
	w.abort()
	w.state.Store(watchCut)
}

// abort asks the Aborter to cut the lease's transport. Its panic must not
// take the timer goroutine, and the process, with it: the lease is marked
// cut all the same, and closed at Release.
func (w *callWatch) abort() {
	defer func() {
		if r := recover(); r != nil && w.lease.m.cfg.Logger != nil {
			w.lease.m.cfg.Logger.Error("idpool: the Dialer panicked in AbortTransport", "pool", w.lease.Key().Redacted(),
				"panic", panicdesc.Describe(r))
		}
	}()
	w.aborter.AbortTransport(w.lease.raw)
}

// stop ends the watch when its call (or result set) has ended. A cut under
// way is waited for: it takes no longer than the Aborter's non-blocking
// AbortTransport.
func (w *callWatch) stop() {
	if w == nil {
		return
	}
	w.unregister()
	if w.state.CompareAndSwap(watchArmed, watchStopped) {
		return
	}
	for w.state.Load() == watchCutting {
		runtime.Gosched()
	}
}

// markCut records on the lease that its transport was cut: it can serve
// nothing more, and Release closes it.
func (l *Lease) markCut() {
	for {
		s := l.state.Load()
		if l.state.CompareAndSwap(s, s|stCut) {
			return
		}
	}
}
