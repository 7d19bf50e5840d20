package fleet_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/idpool/idpool/fleet"
	"github.com/idpool/idpool/internal/etcdtest"
	"github.com/idpool/idpool/manager"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Another program deletes the cap key of the process with the smaller cap,
// then overwrites it with a larger cap, then with its own cap but without its
// lease. Each time the process with the larger cap no longer saw the smaller
// cap and could take up to its own, and the key stayed so: a process put it
// once, before its first permit. The process now sees the change on its watch
// and puts its key again, with its cap and its lease, at once (its renewals
// are 20s apart and nothing takes a permit), and the other keeps to the
// smaller cap again.
func TestOwnCapKeyChangedIsPutAgain(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	ctx := context.Background()
	const prefix = "/t/capkey/"
	small := newBudget(t, cli, fleet.Config{Prefix: prefix, Cap: 2, TTL: time.Minute, Batch: 1, IdleReturn: time.Hour})
	takeN(t, small, 1) // its cap key is put before this first permit
	small.Release()
	large := newBudget(t, cli, fleet.Config{Prefix: prefix, Cap: 4, TTL: time.Minute, Batch: 1, IdleReturn: time.Hour})
	require.Eventually(t, func() bool { return large.Stats().FleetCap == 2 }, 10*time.Second, time.Millisecond)

	lease := small.Stats().Lease
	key := prefix + "c/" + strconv.FormatInt(lease, 16)
	for _, change := range []struct {
		name string
		op   clientv3.Op
	}{
		{"deleted", clientv3.OpDelete(key)},
		{"overwritten with a larger cap", clientv3.OpPut(key, "9")},
		{"overwritten without its lease", clientv3.OpPut(key, "2")},
	} {
		r, err := cli.Txn(ctx).Then(change.op).Commit()
		require.NoError(t, err)
		changed := r.Header.Revision
		require.Eventually(t, func() bool {
			g, err := cli.Get(ctx, key)
			return err == nil && len(g.Kvs) == 1 && g.Kvs[0].ModRevision > changed &&
				string(g.Kvs[0].Value) == "2" && g.Kvs[0].Lease == lease
		}, 10*time.Second, 5*time.Millisecond, "%s: the process puts its cap key again", change.name)
		require.Eventually(t, func() bool { return large.Stats().FleetCap == 2 }, 10*time.Second, time.Millisecond,
			"%s: the other process keeps to the smaller cap again", change.name)
	}
}

// Another program revokes the process's lease. etcd deletes its holder and
// cap keys with it, and the watch shows both deletions; the put of the cap
// key again finds the lease gone. The process must then take a new lease and
// take back the permits of its connections at once, shedding nothing, since
// the cap leaves room for them all (as when a fetch finds the lease gone),
// not ask the manager to close every connection in use.
func TestLeaseRevokedTakesBackBeforeShedding(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	ctx := context.Background()
	const prefix = "/t/capkey-revoke/"
	b := newBudget(t, cli, fleet.Config{Prefix: prefix, Cap: 10, TTL: time.Minute, Batch: 1, IdleReturn: time.Hour})
	sb := newSignals(b)
	b.Want(2)
	for range 2 {
		require.Eventually(t, b.TryAcquire, 10*time.Second, time.Millisecond)
	}
	b.Want(0)
	first := b.Stats().Lease
	_, err := cli.Revoke(ctx, clientv3.LeaseID(first))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		s := b.Stats()
		return s.Lease != first && s.LeaseValid && s.Held >= 2
	}, 10*time.Second, time.Millisecond, "a new lease holding the connections' permits")
	assert.False(t, sb.any(func(s manager.BudgetSignal) bool { return s.Shed > 0 }), "connections closed although the cap left room for them")
	b.Release()
	b.Release()
}
