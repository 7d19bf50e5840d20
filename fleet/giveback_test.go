package fleet

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/idpool/idpool/internal/etcdtest"
)

// TestGiveBackNeverRaisesALoweredKey deletes the budget's holder key and
// gives the whole cap to another holder just before the budget writes the
// lower count of a give-back. A plain put of that count would raise the
// fleet's sum above the cap (nothing compared it); the write applies only if
// the key is as the budget last wrote it, and the budget then counts on
// nothing it no longer holds.
func TestGiveBackNeverRaisesALoweredKey(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	ctx := context.Background()
	const prefix, capN = "/t/giveback/", 4
	b := newHookedBudget(t, cli, Config{Prefix: prefix, Cap: capN, TTL: 3 * time.Second, Batch: 1, IdleReturn: time.Hour},
		func() { beforeGiveBack.Store(nil) })
	var once sync.Once
	setHook(&beforeGiveBack, func() {
		once.Do(func() {
			other, err := cli.Grant(ctx, 60)
			if !assert.NoError(t, err) { // not require: this runs on the budget's goroutine
				return
			}
			_, err = cli.Txn(ctx).Then(clientv3.OpDelete(b.holderKey(clientv3.LeaseID(b.Stats().Lease))),
				clientv3.OpPut(prefix+"h/"+leaseName(other.ID), strconv.Itoa(capN), clientv3.WithLease(other.ID))).Commit()
			assert.NoError(t, err)
		})
	})
	takeEach(t, b, 2, 2)
	b.Want(0)
	require.Equal(t, 3, b.Stats().Held, "2 in use and a spare of Batch 1")
	b.Release()
	b.Release() // 3 held, none in use: 2 spares beyond Batch go back
	require.Eventually(t, func() bool { return b.Stats().Held == 0 }, 10*time.Second, time.Millisecond,
		"the budget counts on permits etcd gave to another")
	assert.Equal(t, capN, holderSum(t, cli, prefix), "the give-back raised the fleet's sum")
}
