package manager

import (
	"context"
	"database/sql/driver"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/memdb"
)

// TestDirectGrantAndWaitRaceHaveExactlyOneWinner races the pool's half of
// the hand-off (Grant) against the caller's (takeDirect), released together,
// thousands of times: either the pool delivers and the caller takes the
// grant from the lease, or the caller waits and the pool must use the
// channel. Never both (a double reply), never neither (a lost one).
func TestDirectGrantAndWaitRaceHaveExactlyOneWinner(t *testing.T) {
	conn := &memdb.Conn{}
	pid := actor.NewPID("local", "pool")
	var direct, waited int
	for i := range 20000 {
		l := &Lease{}
		start := make(chan struct{})
		var delivered bool
		var wg sync.WaitGroup
		wg.Go(func() {
			<-start
			delivered = directOf(l).Grant(conn, uint64(i), pid)
		})
		if i%2 == 0 {
			runtime.Gosched() // vary who gets there first
		}
		close(start)
		took := l.takeDirect()
		wg.Wait()
		require.Equal(t, delivered, took, "round %d: pool delivered=%v, caller took=%v", i, delivered, took)
		if took {
			direct++
			require.Same(t, conn, l.raw)
			require.Same(t, pid, l.pool)
			require.EqualValues(t, i, l.release.ConnID)
		} else {
			waited++
		}
	}
	t.Logf("direct %d, waited %d", direct, waited)
}

// TestGrantAfterTheCallerWaitsIsRefused: once the caller waits on the
// channel, the pool may not deliver directly; once the pool delivered, a
// second Grant (a double reply) is refused too.
func TestGrantAfterTheCallerWaitsIsRefused(t *testing.T) {
	conn, pid := &memdb.Conn{}, actor.NewPID("local", "pool")
	waiting := &Lease{}
	require.False(t, waiting.takeDirect(), "nothing was granted yet")
	require.False(t, directOf(waiting).Grant(conn, 1, pid), "a waiting caller must get its grant on the channel")
	require.Nil(t, waiting.raw, "a refused grant wrote into the lease")

	granted := &Lease{}
	require.True(t, directOf(granted).Grant(conn, 1, pid))
	require.False(t, directOf(granted).Grant(&memdb.Conn{}, 2, pid), "a second grant was accepted")
	require.True(t, granted.takeDirect())
	require.Same(t, conn, granted.raw)
	require.EqualValues(t, 1, granted.release.ConnID)
}

// TestPoolHitIsHandedOverWithoutTheChannel: an acquire that finds an idle
// connection is granted while the pool handles it, on the caller's
// goroutine, and handed over directly; one that must wait for a dial or for
// a release gets its grant on its channel.
func TestPoolHitIsHandedOverWithoutTheChannel(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1})
	first := acquire(t, m, sqlLogin)
	assert.Equal(t, stAwaitReply, first.state.Load()&(stGranted|stAwaitReply), "the first acquire waits for its dial")

	queued := make(chan *Lease)
	go func() { queued <- acquire(t, m, sqlLogin) }()
	eventually(t, func() bool { return m.Stats().Total.Waiters == 1 }, "second acquire never queued")
	first.Release(nil)
	second := <-queued
	assert.Equal(t, stAwaitReply, second.state.Load()&(stGranted|stAwaitReply), "a queued acquire is answered on its channel")
	assert.Equal(t, connID(first), connID(second))
	second.Release(nil)

	// A hit made while the pool's mailbox is idle runs on this goroutine
	// and is handed over directly. The mailbox may still be finishing
	// something else (a Stats query, a timer's Tick) on another goroutine,
	// which then answers this acquire after its send returned, on the
	// channel: a few tries make sure the direct path is taken.
	hits, direct := 0, false
	for !direct && hits < 100 {
		hit := acquire(t, m, sqlLogin)
		hits++
		direct = hit.state.Load()&stGranted != 0
		assert.Equal(t, connID(first), connID(hit))
		require.NoError(t, hit.WithRaw(context.Background(), func(driver.Conn) error { return nil }))
		hit.Release(nil)
	}
	assert.True(t, direct, "no pool hit in %d was handed over directly", hits)
	s := m.Stats().Total
	assert.EqualValues(t, 2+hits, s.Acquires)
	assert.EqualValues(t, 0, s.Busy)
}

// TestHandOffUnderContentionGrantsEachAcquireOnce drives both hand-over
// paths at once, from many goroutines on a pool much smaller than them:
// every acquire returns exactly one connection, none is leased twice, and
// the pool counts every acquire and every release.
func TestHandOffUnderContentionGrantsEachAcquireOnce(t *testing.T) {
	const maxSize, workers, perWorker = 2, 16, 500
	m, db := newManager(t, Config{MaxSize: maxSize})
	holders := make([]atomic.Int64, 1<<16)
	var direct, waited atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				l := acquire(t, m, sqlLogin)
				if l.state.Load()&stGranted != 0 {
					direct.Add(1)
				} else {
					waited.Add(1)
				}
				id := connID(l)
				if !holders[id].CompareAndSwap(0, 1) {
					t.Errorf("connection %d leased twice", id)
				}
				holders[id].Store(0)
				l.Release(nil)
			}
		})
	}
	wg.Wait()
	t.Logf("direct %d, waited %d", direct.Load(), waited.Load())
	assert.EqualValues(t, workers*perWorker, direct.Load()+waited.Load())
	assert.Positive(t, waited.Load(), "with more goroutines than connections some acquires must wait")
	assert.LessOrEqual(t, db.Opened(), maxSize)
	s := m.Stats().Total
	assert.EqualValues(t, workers*perWorker, s.Acquires)
	assert.EqualValues(t, s.Acquires, s.Hits+s.Misses)
	assert.Zero(t, s.Busy)
	assert.Zero(t, s.Waiters)
}

// TestQueuedAcquireWhoseCtxCannotEndGetsTheReleasedConnection: a caller
// whose ctx has no Done channel (context.Background) waits on its reply
// alone, and gets the connection released to it.
func TestQueuedAcquireWhoseCtxCannotEndGetsTheReleasedConnection(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1})
	held := acquire(t, m, sqlLogin)
	type result struct {
		l   *Lease
		err error
	}
	got := make(chan result, 1)
	go func() {
		l, err := m.Acquire(context.Background(), sqlLogin)
		got <- result{l, err}
	}()
	eventually(t, func() bool { return m.Stats().Total.Waiters == 1 }, "acquire never queued")
	held.Release(nil)
	r := <-got
	require.NoError(t, r.err)
	assert.Equal(t, stAwaitReply, r.l.state.Load()&(stGranted|stAwaitReply))
	assert.Equal(t, connID(held), connID(r.l))
	r.l.Release(nil)
}
