package fleet

import (
	"context"
	"testing"
	"time"

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
	b := newHookedBudget(t, cli, Config{Prefix: "/t/renewgone/", Cap: 10, TTL: 30 * time.Second, Batch: 1, IdleReturn: time.Hour},
		func() {})
	require.Eventually(t, func() bool { return b.Stats().LeaseValid }, 10*time.Second, time.Millisecond)
	first := b.Stats().Lease
	_, err := cli.Revoke(context.Background(), clientv3.LeaseID(first))
	require.NoError(t, err)
	// Renew at once.
	b.mu.Lock()
	b.renewAt = time.Now().Add(-time.Second)
	b.mu.Unlock()
	b.kickRenewer()
	require.Eventually(t, func() bool {
		s := b.Stats()
		return s.LeaseLosses == 1 && s.Lease != first && s.LeaseValid
	}, 10*time.Second, time.Millisecond, "the renewal that found the lease gone did not drop it: the budget still counts on a lease etcd no longer has")
}
