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
	cli := etcdtest.StartClient(t, 1)
	ctx := context.Background()
	const prefix = "/t/watchgap/"
	other, err := cli.Grant(ctx, 60)
	require.NoError(t, err)
	var once sync.Once
	afterKeysRead = func() {
		once.Do(func() {
			_, err := cli.Put(ctx, prefix+"w/"+leaseName(other.ID), "1", clientv3.WithLease(other.ID))
			assert.NoError(t, err) // not require: this runs on the watch's goroutine
		})
	}
	defer func() { afterKeysRead = nil }()

	b, err := New(Config{Client: cli, Prefix: prefix, Cap: 4, TTL: 3 * time.Second, Batch: 1, IdleReturn: time.Hour})
	require.NoError(t, err)
	defer func() {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = b.Close(cctx) // before afterKeysRead is reset: Close waits for the watch
	}()
	b.Want(3)
	for range 2 {
		require.Eventually(t, b.TryAcquire, 10*time.Second, time.Millisecond)
	}
	require.Eventually(t, func() bool { s := b.Stats(); return s.Held == 2 && s.InUse == 2 }, 10*time.Second, time.Millisecond,
		"the budget keeps more than its fair share while another process waits: %+v", b.Stats())
	require.False(t, b.TryAcquire(), "a permit beyond the fair share")
	b.Release()
	b.Release()
}
