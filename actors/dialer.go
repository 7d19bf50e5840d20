package actors

import (
	"context"
	"database/sql/driver"

	"github.com/idpool/idpool/tokens"
)

// Dialer opens physical connections. The pool calls Dial from a goroutine of
// its own, never from inside an actor's Receive, so Dial may block; it must
// honour ctx. A panic in Dial is recovered and reported as a dial error.
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
