package fleet

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/idpool/idpool/internal/etcdtest"
)

// TestRenewalFindingTheLeaseGoneDropsIt: etcd no longer knows the budget's
// lease (another program revoked it, or it expired while the process was cut
// off) and the budget holds no key under it, so no watch event says so. The
// renewal that gets "lease not found" must drop the lease at once, so that
// the worker takes a new one, rather than go on counting on it until its
// validUntil (24s here): permits fetched meanwhile would be refused, and
// Stats would show a lease etcd no longer has as valid.
func TestRenewalFindingTheLeaseGoneDropsIt(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	var (
		b     *Budget
		armed atomic.Bool
		step  atomic.Int32
		after atomic.Pointer[Stats]
	)
	beforeWait = func(w *worker) {
		if !armed.Load() {
			return
		}
		switch step.Add(1) {
		case 1:
			// Renew at once, with no step in flight.
			w.nextRenew = time.Now().Add(-time.Second)
			b.wake()
		case 2:
			s := b.Stats()
			after.Store(&s)
		}
	}
	b = newHookedBudget(t, cli, Config{Prefix: "/t/renewgone/", Cap: 10, TTL: 30 * time.Second, Batch: 1, IdleReturn: time.Hour},
		func() { beforeWait = nil })
	require.Eventually(t, func() bool { return b.Stats().LeaseValid }, 10*time.Second, time.Millisecond)
	first := b.Stats().Lease
	_, err := cli.Revoke(context.Background(), clientv3.LeaseID(first))
	require.NoError(t, err)
	armed.Store(true)
	b.wake()
	require.Eventually(t, func() bool { return after.Load() != nil }, 10*time.Second, time.Millisecond, "the worker made its step")
	s := *after.Load()
	assert.EqualValues(t, 1, s.LeaseLosses, "the renewal that found the lease gone did not drop it")
	assert.NotEqual(t, first, s.Lease, "the budget still counts on a lease etcd no longer has")
}
