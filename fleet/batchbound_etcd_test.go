package fleet

import (
	"math"
	"testing"
	"time"

	"github.com/idpool/idpool/internal/etcdtest"
	"github.com/stretchr/testify/require"
)

// TestHugeBatchStillFetches: Batch is how many spares a fetch takes beyond
// what is needed, as far as the cap allows, so any Batch from Cap up means
// "as many as the cap leaves". A Batch near math.MaxInt used to overflow
// the fetch's count (need + Batch) into a negative one, which the fetch took
// for a full fleet: the process never took a permit, and waited (its
// waiting key put) for ever.
func TestHugeBatchStillFetches(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	b := newHookedBudget(t, cli, Config{Prefix: "/t/hugebatch/", Cap: 3, TTL: 2 * time.Second, Batch: math.MaxInt}, func() {})
	b.Want(1)
	require.Eventually(t, b.TryAcquire, 5*time.Second, time.Millisecond, "no permit with a huge Batch")
	require.Equal(t, 3, holderSum(t, cli, "/t/hugebatch/"), "a huge Batch takes what the cap leaves")
	b.Release()
}
