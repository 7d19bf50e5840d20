package fleet

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/idpool/idpool/internal/etcdtest"
	"github.com/idpool/idpool/manager"
)

// TestLeaseLostMidFetchTakesBackBeforeShedding revokes the budget's lease
// between a fetch's read and its transaction. The transaction fails (lease
// not found); the budget must take a new lease at once and take back the
// permits of its open connections, as when a renewal finds the lease gone,
// and ask the manager to close none, since the cap leaves room for all. It
// asked to close every connection in use and took a new lease only at its
// next step, up to TTL/3 later.
func TestLeaseLostMidFetchTakesBackBeforeShedding(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	ctx := context.Background()
	const prefix = "/t/midfetch/"
	b := newHookedBudget(t, cli, Config{Prefix: prefix, Cap: 10, TTL: 3 * time.Second, Batch: 1, IdleReturn: time.Hour},
		func() { beforeTake.Store(nil) })
	var shed atomic.Int64
	b.Subscribe(func(s manager.BudgetSignal) {
		if s.Shed > 0 {
			shed.Store(int64(s.Shed))
		}
	})
	takeEach(t, b, 2, 2)
	b.Want(0)
	first := b.Stats().Lease

	var once sync.Once
	setHook(&beforeTake, func() {
		once.Do(func() {
			_, err := cli.Revoke(ctx, clientv3.LeaseID(first))
			assert.NoError(t, err) // not require: this runs on the budget's goroutine
		})
	})
	b.Want(3) // 2 in use, 1 spare: the fetch of 3 more meets the revoke
	require.Eventually(t, func() bool {
		s := b.Stats()
		return s.Lease != first && s.LeaseValid && s.Held >= 2
	}, 10*time.Second, time.Millisecond, "a new lease holding the connections' permits")
	assert.EqualValues(t, 1, b.Stats().LeaseLosses)
	assert.Zero(t, shed.Load(), "connections closed although the cap left room for them")
	b.Want(0)
	b.Release()
	b.Release()
}
