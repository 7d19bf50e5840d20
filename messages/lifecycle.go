package messages

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/idpool/idpool/tokens"
)

// RetireRequest is sent by a pool that has been idle past its timeout. Seen is
// how many acquires it has received; the manager closes the pool's route and
// agrees only if exactly that many were sent to the pool (over its route by
// callers, and by the manager), so no acquire can be in flight to it (see
// manager/decide/retire.go).
type RetireRequest struct {
	Key  tokens.Key
	Pool *actor.PID
	Seen uint64
}

// RetireApproved tells a pool its retirement was agreed: it closes like on
// ClosePool. The manager stops it once it reports PoolDrained.
type RetireApproved struct{}

// ClosePool tells a pool to close: fail waiters, close idle connections now
// and busy ones when they come back.
type ClosePool struct{}

// ForceClose tells the manager, and then each closing pool, to close the
// connections still leased out: the caller of Close will not wait longer.
type ForceClose struct{}

// PoolDrained tells the manager that a closing pool has closed every
// connection. The manager then stops (poisons) the pool, unless an acquire
// may still reach it over a route read just before it closed: then the pool
// is left alive, idle, to answer it with ErrClosed.
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
