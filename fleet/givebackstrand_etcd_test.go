package fleet

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/idpool/idpool/internal/etcdtest"
)

// TestGiveBackThatLostItsCompareStrandsNoPermit: the budget's holder key is
// written just before a give-back, with the count it already states (as a
// write of the budget's own that timed out and was applied late, or another
// program restoring the key, would). The give-back's compare fails, as it
// must (it never raises a count another program lowered), but the budget had
// already dropped the permits from its own count: it counted on none while
// etcd still recorded them for it, and nothing wrote its key again until its
// next fetch or give-back. An idle process kept them from the fleet for as
// long as it lived. The budget must bring etcd's count down to its own.
func TestGiveBackThatLostItsCompareStrandsNoPermit(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	ctx := context.Background()
	const prefix = "/t/givebackstrand/"
	b := newHookedBudget(t, cli, Config{Prefix: prefix, Cap: 4, TTL: 3 * time.Second, Batch: 1, IdleReturn: time.Hour},
		func() { beforeGiveBack.Store(nil) })
	var once sync.Once
	setHook(&beforeGiveBack, func() {
		once.Do(func() {
			key := b.holderKey(clientv3.LeaseID(b.Stats().Lease))
			r, err := cli.Get(ctx, key)
			if !assert.NoError(t, err) || !assert.Len(t, r.Kvs, 1) { // not require: this runs on the budget's goroutine
				return
			}
			_, err = cli.Put(ctx, key, string(r.Kvs[0].Value), clientv3.WithLease(clientv3.LeaseID(r.Kvs[0].Lease)))
			assert.NoError(t, err)
		})
	})
	takeEach(t, b, 2, 2)
	b.Want(0)
	require.Equal(t, 3, b.Stats().Held, "2 in use and a spare of Batch 1")
	b.Release()
	b.Release() // 3 held, none in use: 2 spares beyond Batch go back
	require.Eventually(t, func() bool { return b.Stats().Held == 1 }, 10*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return holderSum(t, cli, prefix) == b.Stats().Held }, 10*time.Second, 10*time.Millisecond,
		"etcd records permits for the budget that it no longer counts on")
}
