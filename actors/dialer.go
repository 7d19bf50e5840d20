package actors

import (
	"context"
	"database/sql/driver"

	"github.com/idpool/idpool/tokens"
)

// Dialer opens physical connections. The pool calls Dial from a goroutine of
// its own, never from inside an actor's Receive, so Dial may block; it must
// honour ctx. A panic in Dial is recovered and reported as a dial error. A
// dial fails also when Dial returns no connection (nil, or a nil pointer)
// and no error; a connection returned along with an error is closed (as the
// pool closes its own, see CloseDialed) and the error reported, with the
// request's token replaced wherever its text names it (the error still
// unwraps to Dial's own).
type Dialer interface {
	Dial(ctx context.Context, req DialRequest) (driver.Conn, error)
}

// DialRequest is what a Dialer needs to open one connection.
type DialRequest struct {
	// Key is the pool the connection is for. Print Key.Redacted(), never more.
	Key tokens.Key
	// Identity is who the connection logs in as.
	Identity tokens.Identity
	// Token is the token to log in with: exactly the one the pool minted for
	// this connection. It is zero for SQL logins.
	Token tokens.Token
}

// DialerFunc adapts a function to Dialer.
type DialerFunc func(ctx context.Context, req DialRequest) (driver.Conn, error)

// Dial calls f.
func (f DialerFunc) Dial(ctx context.Context, req DialRequest) (driver.Conn, error) {
	return f(ctx, req)
}

// ConnCloser is implemented by a Dialer whose connections must be closed
// some other way than by their own Close. The pool then closes every
// connection the Dialer's Dial returned through CloseConn, never through
// conn.Close: whatever the reason (broken, idle, lifetime, token, health
// check, eviction, the pool's close or retirement, a forced close, a dial
// that came back after its pool closed), exactly once per connection, on a
// goroutine of its own (never inside an actor's Receive), after
// ActorConfig.BeforeClose has seen it and, for a forced close, after the
// Dialer's cut (ActorConfig.Abort). It is not a cut: nothing is logged or
// counted as one.
//
// drivers/sqlserver's Dialer is one: go-mssqldb's Close hands the
// connection's read buffer back to a pool every connection in the process
// shares before it closes the socket, while a response reader it left
// behind (a cancelled call whose server never confirmed) may still read into
// that buffer; its CloseConn closes the socket and never hands the buffer
// on. A driver whose Close says goodbye on the wire (pgx sends Terminate)
// must not close its socket first, and its Dialer need not implement this.
type ConnCloser interface {
	// CloseConn closes conn, which this Dialer's Dial returned, and
	// releases all it holds, as conn.Close would. It may block. The pool
	// ignores its error, as it does Close's, and recovers its panic.
	CloseConn(conn driver.Conn) error
}

// CloseDialed closes conn, which d's Dial returned: through d's CloseConn
// when d is a ConnCloser, else by conn.Close. Every close idpool makes of a
// connection a Dialer opened goes through it, and a Dialer that wraps
// another forwards its CloseConn to it (a wrapper that did not would have
// the inner Dialer's connections closed by their own Close).
func CloseDialed(d Dialer, conn driver.Conn) error {
	if cc, ok := d.(ConnCloser); ok {
		return cc.CloseConn(conn)
	}
	return conn.Close()
}
