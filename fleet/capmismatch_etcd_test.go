package fleet_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/idpool/idpool/fleet"
	"github.com/idpool/idpool/internal/etcdtest"
	"github.com/idpool/idpool/internal/syncbuf"
	"github.com/idpool/idpool/manager"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Two processes on one prefix with different caps: each enforced its own cap
// against the shared sum, so the one with the larger cap took permits up to
// it and the fleet passed the smaller. Each process now records its cap
// under the prefix; every fetch keeps to the smallest cap a live process
// states, and both log an error naming both caps.
func TestDifferentCapsKeepToTheSmaller(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	const prefix = "/t/capmismatch/"
	var logs syncbuf.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	small := newBudget(t, cli, fleet.Config{Prefix: prefix, Cap: 2, Batch: 1, IdleReturn: time.Hour, Logger: logger})
	takeN(t, small, 2)
	large := newBudget(t, cli, fleet.Config{Prefix: prefix, Cap: 4, Batch: 1, IdleReturn: time.Hour, Logger: logger})
	sl := newSignals(large)
	large.Want(2)
	require.Eventually(t, func() bool { return sl.any(func(s manager.BudgetSignal) bool { return s.Full }) }, 10*time.Second, time.Millisecond,
		"the process with the larger cap is told the fleet is full")
	assert.False(t, large.TryAcquire(), "a permit beyond the smaller cap")
	assert.Equal(t, 2, fleetSum(t, cli, prefix))
	// The Full signal comes from large's fetch, which reads the cap keys
	// itself; FleetCap is what large's watch has seen of them, and the
	// watch reads the keys on its own goroutine, at its own pace. It logs
	// the mismatch once it has noted small's cap: only then is FleetCap
	// due to say 2.
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "cap=4 other_cap=2") }, 10*time.Second, time.Millisecond,
		"the process with the larger cap logs the mismatch")
	assert.Equal(t, 2, large.Stats().FleetCap, "the cap the fleet keeps to")
	assert.Equal(t, 4, large.Stats().Cap)
	assert.Equal(t, 2, large.FleetStats().Cap,
		"the cap the Manager's idpool.fleet.permits.cap and its fleet timeout error report is the one the fleet keeps to")
	require.Eventually(t, func() bool { return strings.Count(logs.String(), "level=ERROR") >= 2 }, 10*time.Second, time.Millisecond,
		"both processes log the mismatch")
	assert.Equal(t, 1, strings.Count(logs.String(), "level=ERROR msg=\"fleet: processes on this prefix state different caps; the fleet keeps to the smaller\" prefix="+prefix+" cap=4 other_cap=2"), "logged once:\n%s", logs.String())
	assert.Contains(t, logs.String(), "cap=2 other_cap=4")

	// Once the smaller cap leaves room, the larger process takes up to it.
	// large still waits for 2: its waiting key is what makes small give its
	// spares back at once (IdleReturn is an hour). The test used to stop
	// large's wait first, and small then kept its spares whenever its worker
	// saw the waiting key gone before the releases.
	small.Release()
	small.Release()
	small.Want(0)
	require.Eventually(t, func() bool { return small.Stats().Held == 0 }, 10*time.Second, time.Millisecond)
	takeN(t, large, 2)
	assert.False(t, large.TryAcquire())
	assert.LessOrEqual(t, fleetSum(t, cli, prefix), 2)
}

// A process with the larger cap that already holds more than a newcomer's
// smaller cap keeps to the smaller one as soon as its watch sees the
// newcomer's cap: it sheds the connections beyond it (beyond its fair share
// of it, once the newcomer waits), and the newcomer gets a permit only when
// the fleet's sum is below the smaller cap.
func TestLargerCapShedsToTheSmaller(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	const prefix = "/t/capshed/"
	large := newBudget(t, cli, fleet.Config{Prefix: prefix, Cap: 4, Batch: 1, IdleReturn: time.Hour})
	takeN(t, large, 4)
	small := newBudget(t, cli, fleet.Config{Prefix: prefix, Cap: 2, Batch: 1, IdleReturn: time.Hour})
	small.Want(1)
	require.Eventually(t, func() bool { s := large.Stats(); return s.FleetCap == 2 && s.Shed == 3 }, 10*time.Second, time.Millisecond,
		"the larger process keeps its fair share of the smaller cap, 1")
	assert.False(t, small.TryAcquire(), "4 held against the cap of 2")
	for range 3 {
		large.Release() // the shed connections closed
	}
	require.Eventually(t, small.TryAcquire, 10*time.Second, time.Millisecond)
	assert.LessOrEqual(t, fleetSum(t, cli, prefix), 2)
	assert.Equal(t, 1, large.Stats().InUse)
	large.Release()
	small.Release()
}
