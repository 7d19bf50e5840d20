package actors

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/idpool/idpool/internal/panicdesc"
	"github.com/idpool/idpool/internal/pastctx"
	"github.com/idpool/idpool/internal/typednil"
	"github.com/idpool/idpool/messages"
	"github.com/idpool/idpool/tokens"
)

// The functions here run the pool's blocking calls in goroutines of their
// own and report back to the actor's mailbox. User code (dialers, token
// sources, drivers) runs only here, under recover: a panic becomes an error
// for that one call and the pool's state is untouched.

func (a *poolActor) dial(c actor.Context, tok tokens.Token) {
	req := DialRequest{Key: a.sm.cfg.Key, Identity: a.identity, Token: tok}
	life, root, self, cause, epoch := a.workStarted(), c.ActorSystem().Root, a.self, a.workCause(c), a.sm.Epoch()
	go func() {
		ctx, cancel := workCtx(life, cause, a.cfg.DialTimeout)
		defer cancel()
		conn, err := safeDial(ctx, a.cfg.Dialer, req)
		err = boundPassed(ctx, redactToken(err, tok.Value), "DialTimeout", a.cfg.DialTimeout)
		root.Send(self, &messages.DialDone{Conn: conn, Token: tok, Err: err, Ctx: valuesOf(cause), Epoch: epoch})
	}()
}

// boundPassed names the bound (DialTimeout, MintTimeout) in the error of
// work that failed once ctx, bounded by it, had passed its deadline: the
// driver or token source answers with "context deadline exceeded" or its
// own words for it, which told the caller (whose own ctx may have had time
// left: the work runs under the bound alone) nothing of which deadline it
// was. Close cancels ctx rather than passing its deadline, so its errors
// are left alone. The error still wraps what the work returned.
func boundPassed(ctx context.Context, err error, bound string, d time.Duration) error {
	if err == nil || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%s (%s) passed: %w", bound, d, err)
}

func safeDial(ctx context.Context, d Dialer, req DialRequest) (conn driver.Conn, err error) {
	defer func() {
		if r := recover(); r != nil {
			conn, err = nil, fmt.Errorf("dialer panicked: %s", panicdesc.Describe(r))
		}
	}()
	conn, err = d.Dial(ctx, req)
	switch {
	case err == nil && conn == nil:
		err = fmt.Errorf("dialer returned no connection and no error")
	case err == nil && typednil.Is(conn):
		// Not == nil, so it would be granted, and the holder's first
		// call on it would panic far from the Dialer's mistake.
		conn, err = nil, fmt.Errorf("dialer returned a nil %T and no error", conn)
	case err != nil && conn != nil:
		// A connection with an error (a login that failed half way, a
		// hook's error after the dial): the pool keeps only the error, so
		// nothing else would ever close it. A nil pointer beside the
		// error is the usual `return c, err` and has nothing to close.
		if !typednil.Is(conn) {
			closeRefused(d, conn)
		}
		conn = nil
	}
	return conn, err
}

// closeRefused closes a connection the Dialer returned along with an error,
// as the pool closes its own (see CloseDialed). It runs in the dial's
// goroutine, before the error is reported: a Close that panics is the
// Dialer's, and costs nothing more than that connection.
func closeRefused(d Dialer, conn driver.Conn) {
	defer func() { _ = recover() }()
	_ = CloseDialed(d, conn)
}

func (a *poolActor) mint(c actor.Context) {
	src, key, wrap := a.identity.Source(), a.sm.cfg.Key, a.cfg.Mint
	life, root, self, cause := a.workStarted(), c.ActorSystem().Root, a.self, a.workCause(c)
	go func() {
		ctx, cancel := workCtx(life, cause, a.cfg.MintTimeout)
		defer cancel()
		var tok tokens.Token
		var err error
		if wrap != nil {
			tok, err = wrap(ctx, key, safeSource{src})
		} else {
			tok, err = safeMint(ctx, src)
		}
		err = boundPassed(ctx, err, "MintTimeout", a.cfg.MintTimeout)
		root.Send(self, &messages.MintDone{Token: tok, Err: err, Ctx: valuesOf(cause)})
	}()
}

// safeSource gives a mint wrapper a source that cannot panic or return an
// empty token.
type safeSource struct{ src tokens.Source }

func (s safeSource) Token(ctx context.Context) (tokens.Token, error) { return safeMint(ctx, s.src) }

func safeMint(ctx context.Context, src tokens.Source) (tok tokens.Token, err error) {
	defer func() {
		if r := recover(); r != nil {
			tok, err = tokens.Token{}, fmt.Errorf("token source panicked: %s", panicdesc.Describe(r))
		}
	}()
	if src == nil {
		return tokens.Token{}, tokens.ErrNoIdentity
	}
	tok, err = src.Token(ctx)
	if err == nil && tok.IsZero() {
		err = fmt.Errorf("token source returned an empty token")
	}
	return tok, err
}

func (a *poolActor) validate(c actor.Context, id ConnID, conn driver.Conn) {
	root, self, life, cause := c.ActorSystem().Root, a.self, a.workStarted(), a.workCause(c)
	go func() {
		ctx, cancel := workCtx(life, cause, a.cfg.ValidateTimeout)
		defer cancel()
		w := a.watchCheck(ctx, conn)
		ok := healthy(ctx, conn)
		if w.Stop() {
			ok = false // its transport was cut under it
		}
		root.Send(self, &messages.ValidateDone{ConnID: uint64(id), OK: ok, Ctx: valuesOf(cause)})
	}()
}

// cutForced cuts the transport of a connection closed by force, still
// leased, before its driver's Close: the holder's operation, or a reader the
// driver runs in the background for a result set left open, may still be
// reading from it, and go-mssqldb's Close gives that reader's buffer back to
// a pool every connection in the process shares. Cut first, the reader's
// next read fails instead of writing into memory another connection may
// have taken by then. A panic in the Dialer goes no further than the cut.
func (a *poolActor) cutForced(c driver.Conn) {
	defer func() {
		if r := recover(); r != nil {
			a.logger().Error("idpool: the Dialer panicked in AbortTransport", "pool", a.sm.cfg.Key.Redacted(), "panic", panicdesc.Describe(r))
		}
	}()
	a.cfg.Abort(c)
}

// watchCheck bounds a health check made under ctx by CancelGrace past the
// ctx's end, when the pool can cut connections (ActorConfig.Abort); nil
// otherwise. Stop it before the check's result is sent: Stop waits for a
// cut under way, so none reaches the connection once the pool has it back.
func (a *poolActor) watchCheck(ctx context.Context, conn driver.Conn) *pastctx.Calls {
	abort := a.cfg.Abort
	if abort == nil {
		return nil
	}
	clock := a.cfg.Clock
	return pastctx.Start(ctx, a.cfg.CancelGrace, func(d time.Duration, f func()) func() bool { return clock.AfterFunc(d, f).Stop },
		func() func() { abort(conn); return nil })
}

// healthy asks the driver whether conn is usable: IsValid first (free), then
// a ping when the driver can.
func healthy(ctx context.Context, conn driver.Conn) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	if v, is := conn.(driver.Validator); is && !v.IsValid() {
		return false
	}
	if p, is := conn.(driver.Pinger); is {
		return p.Ping(ctx) == nil
	}
	return true
}

// closeConn closes c off the mailbox and reports CloseDone. A connection
// closed by force while leased is cut first (see cutForced), then closed
// only if no operation of its holder is still inside it: pgx, for one,
// cleans up after the cut on the operation's goroutine, and a Close at the
// same time races that. Otherwise the holder sends CloseAfterOperation when
// the operation leaves (see closeAfterOperation); until then the pool
// counts the connection closing, with no CloseDone.
func (a *poolActor) closeConn(ac actor.Context, id ConnID, c driver.Conn, reason CloseReason, holder messages.DirectGrant) {
	root, self := ac.ActorSystem().Root, a.self
	go func() {
		if c != nil && reason == ReasonForced {
			if a.cfg.Abort != nil {
				a.cutForced(c)
			}
			if holder != nil && operationInside(holder) {
				return
			}
		}
		a.finishClose(root, self, id, c)
	}()
}

// operationInside asks holder whether an operation of its is still inside
// the connection, which it then has closed when that operation leaves. A
// holder that panics is taken to have none: the connection closes now.
func operationInside(holder messages.DirectGrant) (inside bool) {
	defer func() {
		if recover() != nil {
			inside = false
		}
	}()
	return holder.CloseAfterOperation()
}

// closeAfterOperation closes a connection closed by force whose Close waited
// for its holder's operation to leave it; it was cut already.
func (a *poolActor) closeAfterOperation(ac actor.Context, id ConnID, c driver.Conn) {
	root, self := ac.ActorSystem().Root, a.self
	go a.finishClose(root, self, id, c)
}

// finishClose runs the BeforeClose hook and closes c, then reports
// CloseDone, whatever either did. The Dialer closes c when it is a
// ConnCloser (go-mssqldb's Close would hand its buffer on with the socket
// still open: see ConnCloser), else c's own Close does.
func (a *poolActor) finishClose(root *actor.RootContext, self *actor.PID, id ConnID, c driver.Conn) {
	defer root.Send(self, &messages.CloseDone{ConnID: uint64(id)})
	defer func() { _ = recover() }()
	if c == nil {
		return
	}
	if a.cfg.BeforeClose != nil {
		func() {
			defer func() {
				if r := recover(); r != nil {
					a.logger().Error("idpool: hook BeforeClose panicked", "pool", a.sm.cfg.Key.Redacted(), "panic", panicdesc.Describe(r))
				}
			}()
			a.cfg.BeforeClose(c)
		}()
	}
	_ = CloseDialed(a.cfg.Dialer, c)
}
