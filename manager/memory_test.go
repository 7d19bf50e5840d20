package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

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

// TestMemoryComesBackAfterTenThousandRetirements: once 10,000 identities
// have come and gone, the heap is back near where it started. Retired pool
// state used to stay reachable through protoactor's set of the manager's
// children.
func TestMemoryComesBackAfterTenThousandRetirements(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 identities")
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
	ids := make([]string, identities)
	for i := range ids {
		ids[i] = fmt.Sprint("gone", i)
	}
	for _, name := range ids {
		acquire(t, m, identity(name)).Release(nil)
	}
	eventually(t, func() bool { return m.Stats().Pools == 0 }, "every pool retired")
	eventually(t, func() bool { return m.Stats().PoolsRetired == identities+1 }, "retirements counted")
	after := liveHeap()
	if f := os.Getenv("IDPOOL_HEAPPROFILE"); f != "" {
		out, _ := os.Create(f)
		_ = pprof.WriteHeapProfile(out)
		_ = out.Close()
	}
	grew := int64(after) - int64(before)
	t.Logf("heap after %d retirements: %+d bytes (%.1f per identity)", identities, grew, float64(grew)/identities)
	// What remains is the room protoactor's process registry (Go maps, which
	// never shrink) grew to at the peak: about 300 bytes per identity ever
	// seen at once, against about 500 while retired pools stayed reachable
	// as the manager's children.
	assert.Less(t, grew, int64(4<<20), "retired pools must not stay reachable")
}
