package manager

import (
	"context"
	"database/sql/driver"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// liveActors counts the actors registered in the Manager's actor system
// (the manager itself included).
func liveActors(m *Manager) int {
	n := 0
	for _, bucket := range m.system.ProcessRegistry.LocalPIDs.LocalPIDs {
		n += bucket.Count()
	}
	return n
}

func TestTenThousandSingleUseIdentitiesLeaveNoPoolBehind(t *testing.T) {
	const identities = 10_000
	m, db := newManager(t, Config{MaxSize: 1, PoolIdleTimeout: 50 * time.Millisecond, HealthCheckAfter: -1})
	// Pools are spawned from the root under one guardian (see actors.Init),
	// which protoactor registers as a process at the first spawn.
	base := liveActors(m) + 1
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < identities; i += 8 {
				l := acquire(t, m, identity(fmt.Sprint("once", i)))
				l.Release(nil)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, identities, int(m.Stats().PoolsCreated))
	eventually(t, func() bool { return m.Stats().Pools == 0 }, "every quiet pool retired")
	eventually(t, func() bool { return liveActors(m) == base }, "no pool actor left (have %d, want %d)", liveActors(m), base)
	eventually(t, func() bool { return db.OpenNow() == 0 }, "their connections closed")
	s := m.Stats()
	assert.EqualValues(t, identities, s.PoolsRetired)
	assert.EqualValues(t, identities, s.Total.Acquires, "counters of retired pools are kept in the totals")
}

// TestAcquiresRacingRetirementAreNeverLost hammers a few identities with
// acquires timed around their pools' idle timeout, so that acquires cross
// retirement requests in every order. Every acquire must be served.
func TestAcquiresRacingRetirementAreNeverLost(t *testing.T) {
	const retireAfter = 5 * time.Millisecond
	m, db := newManager(t, Config{MaxSize: 2, PoolIdleTimeout: retireAfter, HealthCheckAfter: -1, AcquireTimeout: 5 * time.Second})
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 3))
			for range 150 {
				time.Sleep(time.Duration(r.IntN(int(2 * retireAfter))))
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				l, err := m.Acquire(ctx, identity(fmt.Sprint("racer", r.IntN(4))))
				cancel()
				if !assert.NoError(t, err) {
					return
				}
				l.Release(nil)
			}
		}()
	}
	wg.Wait()
	s := m.Stats()
	t.Logf("pools created %d, retired %d", s.PoolsCreated, s.PoolsRetired)
	assert.Positive(t, s.PoolsRetired, "retirement happened during the run")
	assert.EqualValues(t, 16*150, s.Total.Acquires)
	require.Zero(t, db.Misuse())
}

func TestStatsKeepARetiringPoolsCountersWhileItDrains(t *testing.T) {
	release := make(chan struct{})
	m, _ := newManager(t, Config{PoolIdleTimeout: 10 * time.Millisecond, HealthCheckAfter: -1,
		Hooks: Hooks{BeforeClose: func(driver.Conn) { <-release }}})
	l := acquire(t, m, identity("leaving"))
	l.Release(nil)
	eventually(t, func() bool { return m.Stats().PoolsRetired == 1 }, "retirement approved")
	s := m.Stats() // the pool's close is held up: it is still draining
	assert.EqualValues(t, 1, s.Total.Acquires, "counters of a draining pool are not lost")
	require.Len(t, s.PerPool, 1)
	assert.True(t, s.PerPool[0].Closing)
	assert.Zero(t, s.Pools, "not a live pool any more")
	close(release)
	eventually(t, func() bool { return len(m.Stats().PerPool) == 0 }, "drained")
	assert.EqualValues(t, 1, m.Stats().Total.Acquires)
}

// TestARetiredPoolIsStoppedWhileALateCallerBacksOff plays a caller that read
// an identity's route just before its pool retired: it counts itself in the
// route's sent after the retirement was agreed, and before it reads that the
// route is closed (and backs off, to the manager) the pool reports it has
// drained. The agreement already proved that no acquire can reach the pool;
// the late caller's passing count must not keep the pool actor alive for
// ever.
func TestARetiredPoolIsStoppedWhileALateCallerBacksOff(t *testing.T) {
	hold := make(chan struct{})
	m, _ := newManager(t, Config{PoolIdleTimeout: 10 * time.Millisecond, HealthCheckAfter: -1,
		Hooks: Hooks{BeforeClose: func(driver.Conn) { <-hold }}})
	base := liveActors(m) + 1 // the pools' guardian
	id := identity("leaving")
	disc, err := id.Discriminator(context.Background())
	require.NoError(t, err)
	l := acquire(t, m, id)
	r := m.routes.get(disc) // the late caller reads the route
	require.NotNil(t, r)
	l.Release(nil)
	eventually(t, func() bool { return m.Stats().PoolsRetired == 1 }, "retirement agreed")
	r.sent.Add(1) // the late caller counts itself...
	close(hold)   // ...the pool drains meanwhile...
	eventually(t, func() bool { return len(m.Stats().PerPool) == 0 }, "drained")
	require.True(t, r.closed.Load())
	r.sent.Add(-1) // ...and it sees the route closed and backs off.
	eventually(t, func() bool { return liveActors(m) == base }, "the retired pool's actor stopped (have %d actors, want %d)", liveActors(m), base)
}
