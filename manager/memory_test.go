package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tinyConn is the smallest driver.Conn: the test measures the pool's
// memory, not a fake driver's records of what it opened.
type tinyConn struct{}

func (tinyConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("bare") }
func (tinyConn) Close() error                        { return nil }
func (tinyConn) Begin() (driver.Tx, error)           { return nil, errors.New("bare") }

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// writeHeapProfile writes a heap profile to $IDPOOL_HEAPPROFILE+suffix if
// that is set: run with -memprofilerate=1 and compare the ".before" and
// final profiles (go tool pprof -diff_base) to see what a figure is made of.
func writeHeapProfile(t *testing.T, suffix string) {
	f := os.Getenv("IDPOOL_HEAPPROFILE")
	if f == "" {
		return
	}
	out, err := os.Create(f + suffix)
	require.NoError(t, err)
	defer func() { require.NoError(t, out.Close()) }()
	require.NoError(t, pprof.WriteHeapProfile(out))
}

// TestMemoryComesBackAfterTenThousandRetirements: once 10,000 identities
// have come and gone, the heap is back near where it started, and another
// 10,000 keep nothing more. Retired pool state used to stay reachable
// through protoactor's set of the manager's children, and then each name
// ever registered kept a group of one of protoactor's 32,768 registry maps
// (see registryBuckets).
func TestMemoryComesBackAfterTenThousandRetirements(t *testing.T) {
	if testing.Short() {
		t.Skip("2 x 10,000 identities")
	}
	const identities = 10_000
	m, err := New(Config{Server: "bare:1/test", MaxSize: 1, PoolIdleTimeout: 20 * time.Millisecond, HealthCheckAfter: -1,
		Dialer: DialerFunc(func(context.Context, DialRequest) (driver.Conn, error) { return tinyConn{}, nil })})
	require.NoError(t, err)
	defer func() { require.NoError(t, m.Close(context.Background())) }()
	// Warm up what any first pool allocates once (guardian, sync.Pools).
	acquire(t, m, identity("warm")).Release(nil)
	eventually(t, func() bool { return m.Stats().Pools == 0 }, "warm-up pool retired")
	before := liveHeap()
	writeHeapProfile(t, ".before")
	retireRound(t, m, "gone", identities, identities+1)
	first := liveHeap()
	writeHeapProfile(t, "")
	retireRound(t, m, "again", identities, 2*identities+1)
	second := liveHeap()
	grew, again := int64(first)-int64(before), int64(second)-int64(first)
	t.Logf("heap after %d retirements: %+d bytes (%.1f per identity); after %d more: %+d bytes", identities, grew, float64(grew)/identities, identities, again)
	// What stays is sized by the peak, not by how many identities came and
	// went: the room Go maps grew to (the process registry's, the
	// manager's) while up to about a thousand pools were alive at once, and
	// the runtime's descriptors of the goroutines that ran at once (Go keeps
	// every goroutine descriptor it ever made, for reuse). Measured: 20 to
	// 620 KB after the first round (2.8 MB, 279 B per identity, before the
	// registry was shrunk), and -40 to +115 KB after the second, which
	// reuses that room (+1.8 MB before).
	assert.Less(t, grew, int64(1<<20), "retired pools must not stay reachable")
	assert.Less(t, again, int64(256<<10), "a second round of identities must reuse the room the first one left")
}

// retireRound acquires and releases once as each of n new identities
// (prefix0, prefix1, ...), then waits until every pool has retired and the
// manager has counted retired of them in all.
func retireRound(t *testing.T, m *Manager, prefix string, n int, retired uint64) {
	t.Helper()
	for i := range n {
		acquire(t, m, identity(prefix+strconv.Itoa(i))).Release(nil)
	}
	eventually(t, func() bool { return m.Stats().Pools == 0 }, "every pool retired")
	eventually(t, func() bool { return m.Stats().PoolsRetired == retired }, "retirements counted")
}

// TestActorSystemRegistryIsSmall: each Manager's actor system keeps one
// registry map set instead of protoactor's 1,024 (see registryBuckets), with
// protoactor's own processes still found by name, so that dead letters
// (a late message to a stopped pool) still reach the dead-letter process.
func TestActorSystemRegistryIsSmall(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1})
	reg := m.system.ProcessRegistry
	assert.Len(t, reg.LocalPIDs.LocalPIDs, registryBuckets)
	for _, id := range []string{"eventstream", "deadletter", "idpool-manager"} {
		_, ok := reg.GetLocal(id)
		assert.True(t, ok, "%s is registered", id)
	}
	p, ok := reg.Get(m.system.NewLocalPID("$no-such-pool"))
	assert.False(t, ok)
	assert.Same(t, m.system.DeadLetter, p, "an unknown PID resolves to the dead-letter process")
}

// TestManagerHeap: a Manager with no pool costs tens of KiB, not the 2.8 MiB
// of protoactor's default process registry.
func TestManagerHeap(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation sizes")
	}
	const n = 20
	ms := make([]*Manager, n)
	before := liveHeap()
	for i := range ms {
		m, err := New(Config{Server: "bare:1/test", MaxSize: 1,
			Dialer: DialerFunc(func(context.Context, DialRequest) (driver.Conn, error) { return tinyConn{}, nil })})
		require.NoError(t, err)
		ms[i] = m
	}
	per := (int64(liveHeap()) - int64(before)) / n
	for _, m := range ms {
		require.NoError(t, m.Close(context.Background()))
	}
	t.Logf("heap per Manager: %d bytes", per)
	assert.Less(t, per, int64(256<<10))
}

// TestIdlePoolHeap: an identity pool that sits idle with one idle
// connection holds at most 2 KiB of heap (net of the connection, which
// here is an empty struct) and no goroutine. Measured over 10,000 pools:
// about 1,890 bytes, down from about 3,750. Of it, about 620 bytes are
// protoactor's and the mailbox's per actor and the runtime's timer, the
// rest idpool's: the Pool (704), its connection record (144), the actor
// (128), the manager's and decide's books and the route (~300).
func TestIdlePoolHeap(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation sizes")
	}
	const pools = 10_000
	m, err := New(Config{Server: "bare:1/test", MaxSize: 4,
		Dialer: DialerFunc(func(context.Context, DialRequest) (driver.Conn, error) { return tinyConn{}, nil })})
	require.NoError(t, err)
	defer func() { require.NoError(t, m.Close(context.Background())) }()
	ids := make([]tokens.Identity, pools+1)
	for i := range ids {
		ids[i] = identity("idle" + strconv.Itoa(i))
	}
	// The first pool allocates what all pools share (guardian, sync.Pools).
	acquire(t, m, ids[pools]).Release(nil)
	g0 := runtime.NumGoroutine()
	before := liveHeap()
	writeHeapProfile(t, ".before")
	for _, id := range ids[:pools] {
		acquire(t, m, id).Release(nil)
	}
	eventually(t, func() bool { return m.Stats().Total.Idle == pools+1 }, "every pool has its idle connection")
	after := liveHeap()
	writeHeapProfile(t, "")
	per := (int64(after) - int64(before)) / pools
	t.Logf("heap per idle pool: %d bytes", per)
	runtime.KeepAlive(ids)
	assert.LessOrEqual(t, per, int64(2048))
	assert.LessOrEqual(t, runtime.NumGoroutine(), g0, "no goroutine per idle pool")
}
