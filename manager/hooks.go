package manager

import (
	"context"
	"database/sql/driver"
	"fmt"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/internal/panicdesc"
)

// Hooks are optional callbacks at the points of a connection's life. Each
// runs outside the actors (in the dialing goroutine, the caller's goroutine,
// a goroutine of its own for PrepareConn, or the closing goroutine), so a
// slow hook delays only its own connection;
// a panic in a hook is recovered and reported as a *HookError.
type Hooks struct {
	// BeforeConnect may adjust the request (for example its Token) before
	// each dial. An error fails the dial.
	BeforeConnect func(ctx context.Context, req *DialRequest) error
	// AfterConnect runs on each new connection before first use. An error
	// closes the connection and fails the dial. Session settings made here
	// last until the first release: the session reset between leases
	// undoes them (on PostgreSQL RESET ALL returns every setting to the
	// login's defaults, which the DSN's options=-c name=value or ALTER
	// ROLE ... SET provide); settings every lease needs belong in
	// PrepareConn or the login.
	AfterConnect func(ctx context.Context, conn driver.Conn) error
	// PrepareConn runs on every acquire before the caller gets the
	// connection. Returning false discards the connection and acquires
	// another; returning an error discards it and fails the acquire, but
	// for SQL Server's refusal to reset the session (error 18059: the last
	// lease left it under EXECUTE AS, and the hook's first request carried
	// the reset), which acquires another as false does.
	PrepareConn func(ctx context.Context, conn driver.Conn) (bool, error)
	// AfterRelease runs on every clean release; returning false discards
	// the connection instead of pooling it.
	AfterRelease func(conn driver.Conn) bool
	// BeforeClose runs just before the pool closes a connection.
	BeforeClose func(conn driver.Conn)
}

// HookError reports a hook that failed or panicked.
type HookError struct {
	Hook string
	Err  error
}

// Error implements error.
func (e *HookError) Error() string { return fmt.Sprintf("idpool: hook %s: %v", e.Hook, e.Err) }

// Unwrap returns the hook's error.
func (e *HookError) Unwrap() error { return e.Err }

// runHook calls f, turning an error or a panic into a *HookError.
func runHook(name string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &HookError{Hook: name, Err: fmt.Errorf("panic: %s", panicdesc.Describe(r))}
		}
	}()
	if err := f(); err != nil {
		return &HookError{Hook: name, Err: err}
	}
	return nil
}

// hookedDialer runs BeforeConnect and AfterConnect around the user's Dialer.
type hookedDialer struct {
	next  Dialer
	hooks Hooks
}

func (d hookedDialer) Dial(ctx context.Context, req DialRequest) (driver.Conn, error) {
	if h := d.hooks.BeforeConnect; h != nil {
		if err := runHook("BeforeConnect", func() error { return h(ctx, &req) }); err != nil {
			return nil, err
		}
	}
	conn, err := d.next.Dial(ctx, req)
	if err != nil || d.hooks.AfterConnect == nil {
		return conn, err
	}
	if err := runHook("AfterConnect", func() error { return d.hooks.AfterConnect(ctx, conn) }); err != nil {
		// Closed as the pool closes its connections: through the Dialer
		// when it is a ConnCloser (see actors.CloseDialed).
		_ = actors.CloseDialed(d.next, conn)
		return nil, err
	}
	return conn, nil
}

// CloseConn closes a connection the wrapped Dialer opened as that Dialer
// would have it closed (a ConnCloser's CloseConn), since the pools see only
// the wrapper.
func (d hookedDialer) CloseConn(conn driver.Conn) error { return actors.CloseDialed(d.next, conn) }

// prepare runs PrepareConn on a fresh lease: keep it, or discard it and say
// whether to try another. The hook runs in a goroutine of its own so that
// one ignoring its ctx cannot hold the Acquire past its deadline: the caller
// then gets a timeout, and the connection is discarded when the hook returns.
func (m *Manager) prepare(ctx context.Context, l *Lease) (keep bool, err error) {
	h := m.cfg.Hooks.PrepareConn
	if h == nil {
		return true, nil
	}
	type result struct {
		keep bool
		err  error
	}
	// Unbuffered: the hook's answer is either taken by the caller or, once
	// the caller has given up (ended), turned into a discard.
	// ctx is the caller's own code: read its Done before the hook starts,
	// so that should it panic, the lease goes back unused (and the panic
	// on to the caller) rather than stay with a hook nobody waits for.
	ctxDone := func() (ch <-chan struct{}) {
		defer func() {
			if p := recover(); p != nil {
				l.discard()
				panic(p)
			}
		}()
		return ctx.Done()
	}()
	done := make(chan result)
	ended := make(chan struct{})
	go func() {
		var r result
		// The hook works inside the connection: an operation of the
		// lease, which a forced Close waits for and never closes the
		// connection under (see enterEnded). Once one has begun, the
		// hook does not start.
		if l.enterEnded() {
			r.err = runHook("PrepareConn", func() error {
				var herr error
				r.keep, herr = h(ctx, l.raw)
				return herr
			})
			if r.keep && r.err == nil {
				// The hook's first request carries the last release's
				// reset; it may have swallowed the error of one that
				// failed before sending (see ResetTracker).
				l.unseenCalls()
			}
			l.exitEnded()
		} else {
			r.err = ErrClosed
		}
		select {
		case done <- r:
		case <-ended:
			l.discard() // the caller gave up: nobody will use it
			m.abandonedPrepares.Add(-1)
		}
	}()
	select {
	case r := <-done:
		if r.err != nil || !r.keep {
			l.discard()
		}
		if resetRefused(r.err) {
			// The hook's first request carried the last release's
			// reset, which SQL Server refused (that lease left the
			// session under EXECUTE AS) before running it, ending the
			// session: the connection failed, not the hook. Try another,
			// as database/sql runs a facade call that met it again.
			return false, nil
		}
		return r.keep && r.err == nil, r.err
	case <-m.life.Done():
		// Close has begun: the acquire is not served (its lease is not
		// the caller's yet), as those still queued are not. The hook's
		// lease is left to the hook, as when the caller gives up, so that
		// neither this Acquire nor Close waits for a hook that hangs.
		m.abandonedPrepares.Add(1)
		close(ended)
		return false, ErrClosed
	case <-ctxDone:
		m.abandonedPrepares.Add(1) // before the hook's goroutine can see ended
		close(ended)
		err := m.acquireEnded(ctx, l.acquire.Identity)
		if te, ok := err.(*TimeoutError); ok {
			te.Hook = "PrepareConn" // not the pool: it had granted a connection
		}
		return false, err
	}
}

// afterRelease asks AfterRelease whether to pool the connection.
func (l *Lease) afterRelease() bool {
	h := l.m.cfg.Hooks.AfterRelease
	if h == nil {
		return true
	}
	keep := false
	err := runHook("AfterRelease", func() error { keep = h(l.raw); return nil })
	if err == nil && keep {
		// It runs after the reset was flagged, and may have swallowed the
		// error of a call that failed before sending (see ResetTracker).
		l.unseenCalls()
	}
	return err == nil && keep
}
