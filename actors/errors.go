package actors

import (
	"context"
	"errors"
	"fmt"
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
// It names the pool (redacted), its size limit and how many waited with it.
type TimeoutError struct {
	Key      tokens.Key
	MaxSize  int
	Waiters  int
	Canceled bool // the ctx was cancelled rather than timed out
	// KeyLookup: the deadline passed before the acquire reached a pool,
	// while a token-keyed identity learned its key from its first token.
	// Key then holds only the server, and Waiters is 0.
	KeyLookup bool
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
