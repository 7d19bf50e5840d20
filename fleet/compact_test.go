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

// TestWatchRestartsAfterCompaction puts another process's waiting key after
// the watch has read the keys, then compacts etcd past it, so the watch
// cannot start where the read left off (etcd cancels it, ErrCompacted) and
// the event is gone. The watch must read the keys again and still learn that
// the other process waits: the budget keeps to its fair share, 2 of 4.
func TestWatchRestartsAfterCompaction(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	ctx := context.Background()
	const prefix = "/t/compact/"
	other, err := cli.Grant(ctx, 60)
	require.NoError(t, err)
	var once sync.Once
	afterKeysRead = func() {
		once.Do(func() {
			_, err := cli.Put(ctx, prefix+"w/"+leaseName(other.ID), "1", clientv3.WithLease(other.ID))
			assert.NoError(t, err) // not require: this runs on the watch's goroutine
			r, err := cli.Put(ctx, "/t/unrelated", "x")
			if assert.NoError(t, err) {
				_, err = cli.Compact(ctx, r.Header.Revision)
				assert.NoError(t, err)
			}
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
		"the budget keeps more than its fair share while another process waits")
	require.False(t, b.TryAcquire(), "a permit beyond the fair share")
	b.Release()
	b.Release()
}
