package manager

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCloseEndsAnEvictWaitingForAHungClose: Evict and Reset wait for the
// closes they began, up to their ctx's end: for as long as a BeforeClose
// hook (or a driver's Close) hangs, with a ctx that never ends. Close
// returns within its bound whatever hangs; the Evict and the Reset waiting
// beside it waited on, past Close, for good. They now end as Close
// begins, with ErrClosed (the pools close everything anyway), saying how
// many pools had not finished.
func TestCloseEndsAnEvictWaitingForAHungClose(t *testing.T) {
	for _, call := range []string{"Evict", "Reset"} {
		t.Run(call, func(t *testing.T) {
			h := newHostile(t)
			m, db := newHostileManager(t, Config{HealthCheckAfter: -1, DialBackoff: -1, Hooks: hostileHooks(h)}, h)
			id := hostileIdentity(h, "evicted")
			acquire(t, m, id).Release(nil)
			h.arm("BeforeClose", hangs)
			ended := make(chan error, 1)
			go func() {
				if call == "Evict" {
					ended <- m.Evict(context.Background(), id)
				} else {
					ended <- m.Reset(context.Background())
				}
			}()
			<-h.entered // the eviction's close hangs
			ctx, cancel := hostileCtx()
			defer cancel()
			closed := make(chan error, 1)
			go func() { closed <- m.Close(ctx) }()
			select {
			case err := <-ended:
				require.ErrorIs(t, err, ErrClosed)
				assert.Contains(t, err.Error(), "pools still closing: 1")
			case <-time.After(hostileBound):
				h.release()
				<-ended
				t.Fatalf("%s waited past Close for a close that hangs", call)
			}
			var ce *CloseError
			require.ErrorAs(t, <-closed, &ce)
			assert.Equal(t, 1, ce.Closing)
			h.release()
			eventually(t, func() bool { return db.OpenNow() == 0 }, "closed once the hook returns")
			assert.Zero(t, m.Stats().Total.ClosingConns)
		})
	}
}
