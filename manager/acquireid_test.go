package manager

import (
	"context"
	"testing"
	"time"

	"github.com/idpool/idpool/sim/memdb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestARouteAcquireAndAManagerAcquireNeverShareAnID: the first acquire of
// an identity goes through the manager actor, which spawns the pool; the
// next go straight to the pool over its route. Each path numbers its
// acquires with a counter of its own (see Manager.send), so both kinds wait
// in one pool's queue at once here, and the Cancel of one must not withdraw
// the other.
func TestARouteAcquireAndAManagerAcquireNeverShareAnID(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 1})
	release := db.BlockDials()
	type result struct {
		l   *Lease
		err error
	}
	first := make(chan result, 1)
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	go func() { l, err := m.Acquire(ctx, identity("alice")); first <- result{l, err} }()
	eventually(t, func() bool { return m.Stats().Total.Dialing == 1 }, "the first acquire spawned the pool, which dials")

	second, cancel := context.WithCancel(context.Background())
	secondDone := make(chan error, 1)
	go func() { _, err := m.Acquire(second, identity("alice")); secondDone <- err }()
	eventually(t, func() bool { return m.Stats().Total.Waiters == 2 }, "both acquires wait in the pool")
	cancel()
	require.ErrorIs(t, <-secondDone, context.Canceled)
	eventually(t, func() bool { return m.Stats().Total.Waiters == 1 }, "the cancelled acquire left the queue")

	release()
	r := <-first
	require.NoError(t, r.err, "the first acquire keeps its place: the second's Cancel named only the second")
	assert.Equal(t, "test:alice", r.l.Raw().(*memdb.Conn).Identity(), "a connection of alice's")
	r.l.Release(nil)
}
