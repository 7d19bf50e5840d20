package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// queuedPool returns a pool of one connection, leased out to acquire 1, with
// `queued` more acquires waiting for it, and a step function that checks
// the invariants after each step.
func queuedPool(t *testing.T, queued int) (*Pool, func(Input) []Effect) {
	t.Helper()
	p := New(PoolConfig{Key: "k", MaxSize: 1})
	now := time.Unix(1_700_000_000, 0)
	step := func(in Input) []Effect {
		p.Step(now, in)
		effs := append([]Effect(nil), p.Ready()...) // Advance clears the list
		p.Advance()
		if err := p.CheckInvariants(); err != nil {
			t.Fatal(err)
		}
		return effs
	}
	step(Start{})
	step(Acquire{ID: 1})
	require.Equal(t, EffGrant, step(DialDone{Conn: fakeConn(1)})[0].Kind)
	for i := range queued {
		require.Empty(t, step(Acquire{ID: uint64(2 + i)}), "acquire %d queues", 2+i)
	}
	return p, step
}

// Queued acquires allocate nothing in steady state, whether the queue runs
// empty between them (one waiter at a time) or stays long: waiter records
// and the queue's slice are reused while the pool is busy. Before, each
// queued acquire allocated its waiter, and the id map was rebuilt whenever
// the queue emptied and refilled.
func TestStepQueuedAcquireAllocatesNothing(t *testing.T) {
	for _, depth := range []int{0, 3, 100} {
		p, _ := queuedPool(t, depth)
		id, conn := uint64(1000), ConnID(1)
		cycle := func() {
			id++
			p.Step(time.Unix(1_700_000_000, 0), Acquire{ID: id})
			p.Ready()
			p.Advance()
			p.Step(time.Unix(1_700_000_000, 0), Release{Conn: conn})
			effs := p.Ready()
			if len(effs) != 1 || effs[0].Kind != EffGrant {
				t.Fatalf("depth %d: release gives %v, want one grant", depth, effs)
			}
			conn = effs[0].Conn
			p.Advance()
		}
		for range 2 * indexAbove { // let the slices reach their size
			cycle()
		}
		assert.Zero(t, testing.AllocsPerRun(1000, cycle), "queue depth %d", depth)
		require.NoError(t, p.CheckInvariants())
	}
}

// Waiters are granted in arrival order whatever the queue's reuse of its
// slots and records, and a cancelled waiter is skipped, in short queues
// (found by scanning) and long ones (found by the index).
func TestQueueReuseKeepsFIFOAndCancels(t *testing.T) {
	for _, depth := range []int{5, indexAbove + 20} {
		_, step := queuedPool(t, depth)
		// Cancel every third waiter; the others are granted in order.
		var want []uint64
		for i := range depth {
			id := uint64(2 + i)
			if i%3 == 1 {
				effs := step(Cancel{ID: id})
				require.Len(t, effs, 1)
				require.Equal(t, EffCancelled, effs[0].Kind)
				continue
			}
			want = append(want, id)
		}
		require.Empty(t, step(Cancel{ID: 9999}), "cancelling an unknown acquire does nothing")
		var got []uint64
		conn := ConnID(1)
		for range want {
			effs := step(Release{Conn: conn})
			require.Len(t, effs, 1)
			require.Equal(t, EffGrant, effs[0].Kind)
			got = append(got, effs[0].AcquireID)
			conn = effs[0].Conn
			// A new waiter joins behind the others each time and reuses a record.
			step(Acquire{ID: 10_000 + effs[0].AcquireID})
		}
		assert.Equal(t, want, got, "depth %d", depth)
	}
}

// Once nothing is leased and no one waits, the queue gives its memory back:
// an idle pool holds no waiter records and no queue slice.
func TestIdlePoolKeepsNoWaitQueue(t *testing.T) {
	p, step := queuedPool(t, 10)
	conn := ConnID(1)
	for range 10 {
		conn = step(Release{Conn: conn})[0].Conn
	}
	assert.True(t, p.waiters.holdsMemory(), "a busy pool keeps the queue for its next wait")
	step(Release{Conn: conn})
	assert.False(t, p.waiters.holdsMemory())
	assert.Nil(t, p.waiters.items)
	assert.Nil(t, p.waiters.free)
	assert.Nil(t, p.waiters.byID)
}

// After a burst of waiters, a pool that stays busy keeps at most
// maxFreeWaiters records for reuse, not one per waiter of the burst.
func TestBusyPoolKeepsBoundedWaiterRecords(t *testing.T) {
	const burst = 4 * maxFreeWaiters
	p, step := queuedPool(t, burst)
	conn := ConnID(1)
	for range burst {
		conn = step(Release{Conn: conn})[0].Conn
	}
	assert.Zero(t, p.waiters.live)
	assert.LessOrEqual(t, len(p.waiters.free), maxFreeWaiters)
	assert.True(t, p.waiters.holdsMemory(), "still busy: the queue is kept")
}
