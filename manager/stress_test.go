package manager

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
