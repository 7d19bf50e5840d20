package messages

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/idpool/idpool/tokens"
)

// RetireRequest is sent by a pool that has been idle past its timeout. Seen is
// how many acquires it has received; the manager agrees only if it has
// forwarded exactly that many, so no acquire can be in flight to it.
type RetireRequest struct {
	Key  tokens.Key
	Pool *actor.PID
	Seen uint64
}

// RetireApproved tells a pool to close its connections and stop.
type RetireApproved struct{}

// ClosePool tells a pool to close: fail waiters, close idle connections now
// and busy ones when they come back.
type ClosePool struct{}

// ForceClose tells the manager, and then each closing pool, to close the
// connections still leased out: the caller of Close will not wait longer.
type ForceClose struct{}

// PoolDrained tells the manager that a closing pool has closed every
// connection. The pool stops itself after sending it.
type PoolDrained struct {
	Key   tokens.Key
	Pool  *actor.PID
	Stats PoolStats
}

// CloseManager closes the manager and all its pools. The manager answers on
// Reply with a channel that is closed once every connection is closed.
type CloseManager struct{ Reply chan (<-chan struct{}) }

// StatsQuery asks every live pool for a snapshot; the manager answers on Reply
// with its own figures, and each pool sends its snapshot on the PoolStats
// channel of that answer.
type StatsQuery struct{ Reply chan ManagerStats }

// PoolStatsQuery asks one pool for a snapshot on Reply.
type PoolStatsQuery struct{ Reply chan PoolStats }
