package manager

import (
	"strconv"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/idpool/idpool/manager/decide"
)

// poolNamePrefix starts the registry name of every pool actor; nothing
// else in an actor system is named so (protoactor's own names are
// "$n", "future$n", "guardian$n", "eventstream", "deadletter").
const poolNamePrefix = "pool-"

// poolName is the name pool id's actor is registered under. Deriving it
// from the PoolID lets the manager find a pool from the PID its messages
// carry without a map from names to ids (about 40 bytes per pool). It also
// keeps a name from ever naming a second pool, because decide never reuses
// a PoolID: protoactor re-resolves a PID by name once its actor has
// stopped, so a late message for a retired pool must find nothing rather
// than another identity's pool.
func poolName(id decide.PoolID) string {
	var buf [len(poolNamePrefix) + 20]byte // one allocation: the string
	return string(strconv.AppendUint(append(buf[:0], poolNamePrefix...), uint64(id), 10))
}

// poolOf returns the id of the pool pid names, if that pool is spawned and
// not stopped.
func (m *managerActor) poolOf(pid *actor.PID) (decide.PoolID, bool) {
	if pid == nil {
		return 0, false
	}
	digits, ok := strings.CutPrefix(pid.Id, poolNamePrefix)
	if !ok || strings.HasPrefix(digits, "0") { // poolName writes no leading zero
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, false
	}
	id := decide.PoolID(n)
	if m.entries[id] == nil {
		return 0, false
	}
	return id, true
}

// poolID is poolOf's id alone: zero, which decide never gives a pool, when
// pid names no live pool.
func (m *managerActor) poolID(pid *actor.PID) decide.PoolID {
	id, _ := m.poolOf(pid)
	return id
}
