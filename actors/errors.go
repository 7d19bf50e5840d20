package actors

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/idpool/idpool/tokens"
)

// ErrClosed is returned by acquires on a closed pool or manager, and to the
// waiters still queued when it closed.
var ErrClosed = errors.New("idpool: pool closed")

// ErrPoolExhausted is returned at once when the pool's queue is already
// MaxWaiters long: load is shed instead of queued.
var ErrPoolExhausted = errors.New("idpool: pool exhausted (too many waiters)")

// ErrInternal answers an acquire whose message a pool or the manager actor
// was handling when a panic cut its step short (idpool's own, or an
// ActorConfig.Clock that panicked; the manager wraps its Config.Clock so
// that it never does): the actor keeps its state and goes on, and
// the caller gets this at once rather than wait for an answer that would
// never come. The error log has the panic's line.
var ErrInternal = errors.New("idpool: internal error while handling the acquire, which was not served (see the log line \"idpool: internal error in pool actor\" or \"in manager actor\")")

// ErrAcquireTimeout matches (with errors.Is) every acquire that ran out of
// time. Such errors also match context.DeadlineExceeded.
var ErrAcquireTimeout = errors.New("idpool: acquire timed out")

// TimeoutError is the error of an acquire whose deadline passed while queued.
// It names the pool (redacted), its size limit, how many waited with it, and
// what the pool was doing (Pool): what the acquire waited on.
type TimeoutError struct {
	Key      tokens.Key
	MaxSize  int
	Waiters  int
	Canceled bool // the ctx was cancelled rather than timed out
	// KeyLookup: the deadline passed before the acquire reached a pool,
	// while a token-keyed identity learned its key from its first token.
	// Key then holds only the server, and Waiters is 0.
	KeyLookup bool
	// Pool is what the pool was doing as the acquire left its queue: what
	// the acquire waited on. Nil when the acquire ended elsewhere (learning
	// its key, or after the pool had granted it, in a PrepareConn hook).
	Pool *PoolWork
	// Hook names the hook the acquire was waiting for when it ended, the
	// pool having granted it a connection (manager's PrepareConn).
	Hook string
}

// PoolWork is what a pool was doing when an acquire queued in it ran out
// of time: every connection in use (the pool too small, or leases held too
// long), or a dial, a token mint, a MaxTotal or fleet permit, or the close
// of connections MaxSize still counts, that had not come back (a dependency
// that hangs shows here).
type PoolWork struct {
	// Busy counts the connections leased out.
	Busy int
	// Dialing counts the dials in flight, those waiting for a token mint
	// among them.
	Dialing int
	// Minting says a token mint was in flight.
	Minting bool
	// AwaitingPermit counts the dials waiting for a MaxTotal or fleet
	// permit (Config.MaxTotal, Config.Fleet).
	AwaitingPermit int
	// Closing counts the connections whose close had not finished: the
	// server still counts their sessions, and MaxSize does too.
	Closing int
	// Checking counts the connections in a health or token check.
	Checking int
}

// String says what the pool was doing, its connections in use first.
func (s *PoolWork) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d in use", s.Busy)
	if s.Dialing > 0 {
		fmt.Fprintf(&b, ", %d dialing", s.Dialing)
	}
	if s.Minting {
		b.WriteString(", a token mint in flight")
	}
	if s.AwaitingPermit > 0 {
		fmt.Fprintf(&b, ", %d dials waiting for a MaxTotal or fleet permit", s.AwaitingPermit)
	}
	if s.Closing > 0 {
		fmt.Fprintf(&b, ", %d closing", s.Closing)
	}
	if s.Checking > 0 {
		fmt.Fprintf(&b, ", %d in a health check", s.Checking)
	}
	return b.String()
}

// Error implements error.
func (e *TimeoutError) Error() string {
	what := "timed out"
	if e.Canceled {
		what = "cancelled"
	}
	if e.KeyLookup {
		return fmt.Sprintf("idpool: acquire %s learning the identity's pool key from its first token (server %s)",
			what, e.Key.Server())
	}
	if e.Hook != "" {
		return fmt.Sprintf("idpool: acquire %s waiting for hook %s on a connection of pool %s",
			what, e.Hook, e.Key.Redacted())
	}
	if e.Pool != nil {
		return fmt.Sprintf("idpool: acquire %s waiting for pool %s (max size %d: %s; %d waiting)",
			what, e.Key.Redacted(), e.MaxSize, e.Pool, e.Waiters)
	}
	return fmt.Sprintf("idpool: acquire %s waiting for pool %s (max size %d, %d waiting)",
		what, e.Key.Redacted(), e.MaxSize, e.Waiters)
}

// Is makes a timeout match ErrAcquireTimeout and context.DeadlineExceeded, and
// a cancellation match context.Canceled.
func (e *TimeoutError) Is(target error) bool {
	if e.Canceled {
		return target == context.Canceled
	}
	return target == ErrAcquireTimeout || target == context.DeadlineExceeded
}

// BlockedError is returned at once to acquires the pool cannot serve during
// a blocking period after failed dials (see PoolConfig.DialBackoff). It wraps
// the last dial or mint error.
type BlockedError struct {
	Err   error
	Until time.Time
}

// Error implements error.
func (e *BlockedError) Error() string {
	return fmt.Sprintf("%v (not retrying until %s)", e.Err, e.Until.Format(time.RFC3339Nano))
}

// Unwrap returns the last dial error.
func (e *BlockedError) Unwrap() error { return e.Err }

// DialError wraps a failed dial or token mint with the pool it was for.
type DialError struct {
	Key  tokens.Key
	Mint bool // the token mint failed, not the dial
	Err  error
}

// Error implements error.
func (e *DialError) Error() string {
	if e.Mint {
		return fmt.Sprintf("idpool: minting a token for pool %s: %v", e.Key.Redacted(), e.Err)
	}
	return fmt.Sprintf("idpool: dialing for pool %s: %v", e.Key.Redacted(), e.Err)
}

// Unwrap returns the cause.
func (e *DialError) Unwrap() error { return e.Err }
