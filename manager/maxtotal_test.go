package manager

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idpool/idpool/sim/memdb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// watchOpen samples the server's open session count until the test ends and
// reports the highest it saw.
func watchOpen(t *testing.T, db *memdb.DB) func() int {
	var peak atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if n := int64(db.OpenNow()); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Microsecond):
			}
		}
	}()
	var once sync.Once
	finish := func() int {
		once.Do(func() { close(stop); <-done })
		return int(peak.Load())
	}
	t.Cleanup(func() { finish() })
	return finish
}

func TestMaxTotalStealsAnIdleConnectionFromAnotherIdentity(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 3, MaxTotal: 3, HealthCheckAfter: -1})
	peak := watchOpen(t, db)
	var as []*Lease
	for range 3 {
		as = append(as, acquire(t, m, identity("alice")))
	}
	for _, l := range as {
		l.Release(nil)
	}
	b := acquire(t, m, identity("bob"))
	assert.Equal(t, "test:bob", firstString(t, query(t, b, "SELECT IDENTITY")))
	b.Release(nil)
	s := m.Stats().Total
	assert.LessOrEqual(t, s.Open, 3)
	assert.EqualValues(t, 1, s.Closes["stolen"])
	assert.LessOrEqual(t, peak(), 3, "the server never saw more sessions than MaxTotal")
}

func TestMaxTotalServesEveryIdentity(t *testing.T) {
	const limit, identities, perIdentity = 2, 6, 2
	m, db := newManager(t, Config{MaxSize: 2, MaxTotal: limit, HealthCheckAfter: -1, AcquireTimeout: 10 * time.Second})
	peak := watchOpen(t, db)
	// A number of rounds, not a time window: on a loaded machine a goroutine
	// may not even start within a window, which would look like starvation.
	// Every acquire must succeed within AcquireTimeout, so each identity is
	// served rounds times per goroutine.
	const rounds = 25
	done := make([]atomic.Int64, identities)
	var wg sync.WaitGroup
	for i := range identities {
		for range perIdentity {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := identity(fmt.Sprint("id", i))
				for range rounds {
					l, err := m.Acquire(context.Background(), id)
					if !assert.NoError(t, err) {
						return
					}
					time.Sleep(time.Millisecond)
					l.Release(nil)
					done[i].Add(1)
				}
			}()
		}
	}
	wg.Wait()
	for i := range done {
		assert.EqualValues(t, perIdentity*rounds, done[i].Load(), "identity %d starved", i)
	}
	assert.LessOrEqual(t, peak(), limit)
	require.Zero(t, db.Misuse())
}
