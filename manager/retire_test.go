package manager

import (
	"context"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
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

// TestStatsKeepARetiringPoolsCountersWhileItDrains: a quiet pool closing
// its connection to retire (the close held up) is still a live pool in
// Stats; once it has retired and drained, its counters are in Total.
func TestStatsKeepARetiringPoolsCountersWhileItDrains(t *testing.T) {
	release, closing := make(chan struct{}), make(chan struct{}, 1)
	m, _ := newManager(t, Config{PoolIdleTimeout: 10 * time.Millisecond, HealthCheckAfter: -1,
		Hooks: Hooks{BeforeClose: func(driver.Conn) { closing <- struct{}{}; <-release }}})
	l := acquire(t, m, identity("leaving"))
	l.Release(nil)
	<-closing
	s := m.Stats() // the pool's close is held up: it does not retire yet
	assert.EqualValues(t, 1, s.Total.Acquires, "counters of a retiring pool are not lost")
	require.Len(t, s.PerPool, 1)
	assert.Equal(t, 1, s.PerPool[0].ClosingConns)
	assert.Zero(t, s.PoolsRetired, "a pool retires once its closes have finished")
	close(release)
	eventually(t, func() bool { s := m.Stats(); return s.PoolsRetired == 1 && len(s.PerPool) == 0 }, "retired and drained")
	assert.EqualValues(t, 1, m.Stats().Total.Acquires)
}

// TestARetiredPoolIsStoppedWhileALateCallerBacksOff plays a caller that read
// an identity's route just before its pool retired: it counts itself in the
// route's sent after the retirement was agreed, and before it reads that the
// route is closed (and backs off, to the manager) the pool reports it has
// drained. The agreement already proved that no acquire can reach the pool;
// the late caller's passing count must not keep the pool actor alive for
// ever. A pool retires empty, so it drains as soon as it is told: the late
// caller counts itself while the manager logs the agreement, before it
// tells the pool.
func TestARetiredPoolIsStoppedWhileALateCallerBacksOff(t *testing.T) {
	var late atomic.Pointer[route]
	agreed := make(chan struct{})
	logger := slog.New(&onMessage{msg: "idpool: pool retired", f: func() {
		late.Load().sent.Add(1) // the late caller counts itself...
		close(agreed)
	}})
	m, _ := newManager(t, Config{PoolIdleTimeout: 10 * time.Millisecond, HealthCheckAfter: -1, Logger: logger})
	base := liveActors(m) + 1 // the pools' guardian
	id := identity("leaving")
	disc, err := id.Discriminator(context.Background())
	require.NoError(t, err)
	l := acquire(t, m, id)
	r := m.routes.get(disc) // the late caller reads the route
	require.NotNil(t, r)
	late.Store(r)
	l.Release(nil)
	<-agreed
	// ...the pool drains meanwhile...
	eventually(t, func() bool { return m.Stats().PoolsRetired == 1 && len(m.Stats().PerPool) == 0 }, "retired and drained")
	require.True(t, r.closed.Load())
	r.sent.Add(-1) // ...and it sees the route closed and backs off.
	eventually(t, func() bool { return liveActors(m) == base }, "the retired pool's actor stopped (have %d actors, want %d)", liveActors(m), base)
}

// onMessage is a slog.Handler that runs f, once, when a record with message
// msg is logged.
type onMessage struct {
	msg  string
	f    func()
	once sync.Once
}

func (h *onMessage) Enabled(context.Context, slog.Level) bool { return true }
func (h *onMessage) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(h.f)
	}
	return nil
}
func (h *onMessage) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *onMessage) WithGroup(string) slog.Handler      { return h }

// TestARetiringPoolsSlowClosesKeepItsIdentityWithinMaxSize counts the
// identity's sessions at the server while the closes of its quiet pool hang
// (a BeforeClose hook, a slow network close). Those sessions count against
// MaxSize until closed, so the identity's next acquires wait rather than
// open more. A pool used to retire first and close after: the next acquire
// spawned a new pool that opened MaxSize more sessions (4 with MaxSize 2),
// and every retirement whose closes hung added up to MaxSize more.
func TestARetiringPoolsSlowClosesKeepItsIdentityWithinMaxSize(t *testing.T) {
	const maxSize = 2
	g := newGate()
	defer g.open()
	m, db := newManager(t, Config{MaxSize: maxSize, PoolIdleTimeout: 20 * time.Millisecond, HealthCheckAfter: -1,
		Hooks: Hooks{BeforeClose: func(driver.Conn) { g.wait() }}})
	peak := watchOpen(t, db)
	a := identity("a")
	l1, l2 := acquire(t, m, a), acquire(t, m, a)
	l1.Release(nil)
	l2.Release(nil)
	for range maxSize {
		<-g.entered // the quiet pool closes its connections; the closes hang
	}
	for range maxSize {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		l, err := m.Acquire(ctx, a)
		cancel()
		if err == nil {
			defer l.Release(nil)
		}
	}
	got := peak()
	t.Logf("sessions of the identity at the server: at most %d (MaxSize %d)", got, maxSize)
	assert.LessOrEqual(t, got, maxSize)
	g.open()
	eventually(t, func() bool { return m.Stats().PoolsRetired >= 1 && db.OpenNow() == 0 }, "retires once its closes have finished")
	acquire(t, m, a).Release(nil)
}
