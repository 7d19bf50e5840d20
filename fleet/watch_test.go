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

// TestWatchSeesAKeyPutBetweenItsReadAndItsStart puts another process's
// waiting key after the budget's watch has read the keys and before the
// watch starts. The budget must still learn that the other waits, and keep
// to its fair share, 2 of the cap of 4, however many permits its manager
// wants. A watch started at the current revision missed such a key until it
// restarted, and a process could wait for permits while the others kept the
// whole cap (the fleet simulation's start timed out so, about once in eight
// runs).
func TestWatchSeesAKeyPutBetweenItsReadAndItsStart(t *testing.T) {
	assertWatchLearnsOfAWaiterPutAfterItsRead(t, "/t/watchgap/", false)
}

// TestWatchRestartsAfterCompaction puts another process's waiting key after
// the watch has read the keys, then compacts etcd past it, so the watch
// cannot start where the read left off (etcd cancels it, ErrCompacted) and
// the event is gone. The watch must read the keys again and still learn that
// the other process waits: the budget keeps to its fair share, 2 of 4.
func TestWatchRestartsAfterCompaction(t *testing.T) {
	assertWatchLearnsOfAWaiterPutAfterItsRead(t, "/t/compact/", true)
}

// assertWatchLearnsOfAWaiterPutAfterItsRead puts another process's waiting
// key right after the watch's first read of the keys (compacting etcd past
// it, if compact), and checks that the budget keeps to its fair share.
func assertWatchLearnsOfAWaiterPutAfterItsRead(t *testing.T, prefix string, compact bool) {
	t.Helper()
	cli := etcdtest.StartClient(t, 1)
	ctx := context.Background()
	other, err := cli.Grant(ctx, 60)
	require.NoError(t, err)
	var once sync.Once
	afterKeysRead = func() {
		once.Do(func() {
			// assert, not require: this runs on the watch's goroutine.
			_, err := cli.Put(ctx, prefix+"w/"+leaseName(other.ID), "1", clientv3.WithLease(other.ID))
			assert.NoError(t, err)
			if !compact {
				return
			}
			r, err := cli.Put(ctx, "/t/unrelated", "x")
			if assert.NoError(t, err) {
				_, err = cli.Compact(ctx, r.Header.Revision)
				assert.NoError(t, err)
			}
		})
	}
	b := newHookedBudget(t, cli, Config{Prefix: prefix, Cap: 4, TTL: 3 * time.Second, Batch: 1, IdleReturn: time.Hour},
		func() { afterKeysRead = nil })
	takeEach(t, b, 3, 2)
	require.Eventually(t, func() bool { s := b.Stats(); return s.Held == 2 && s.InUse == 2 }, 10*time.Second, time.Millisecond,
		"the budget keeps more than its fair share while another process waits: %+v", b.Stats())
	require.False(t, b.TryAcquire(), "a permit beyond the fair share")
	b.Release()
	b.Release()
}
