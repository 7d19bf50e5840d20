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

// raceFetch runs a fetch of the budget's whole cap (3) and, between its read
// and its transaction, has another process write key = value under a lease
// of its own, once. It returns when the budget has made a successful fetch.
func raceFetch(t *testing.T, cli *clientv3.Client, prefix, key, value string) *Budget {
	t.Helper()
	ctx := context.Background()
	other, err := cli.Grant(ctx, 60)
	require.NoError(t, err)
	b := newHookedBudget(t, cli, Config{Prefix: prefix, Cap: 3, TTL: 3 * time.Second, Batch: 1, IdleReturn: time.Hour},
		func() { beforeTake.Store(nil) })
	var once sync.Once
	setHook(&beforeTake, func() {
		once.Do(func() {
			_, err := cli.Put(ctx, prefix+key+leaseName(other.ID), value, clientv3.WithLease(other.ID))
			assert.NoError(t, err) // not require: this runs on the budget's goroutine
		})
	})
	b.Want(3)
	require.Eventually(t, func() bool { return b.Stats().Fetches >= 1 }, 10*time.Second, time.Millisecond)
	return b
}

// TestFetchRacingAnotherHolderKeepsToTheCap: another process takes two of
// the cap's three permits between a fetch's read (which saw none taken) and
// its transaction. The transaction must fail on the holders' changed mod
// revision, and the read again take only the one left: a write of the
// first read's count put the fleet's sum at five, above the cap, for as long
// as both processes held their permits.
func TestFetchRacingAnotherHolderKeepsToTheCap(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	const prefix = "/t/fetchrace/holder/"
	b := raceFetch(t, cli, prefix, "h/", "2")
	assert.LessOrEqual(t, holderSum(t, cli, prefix), 3, "the fleet's sum passed the cap")
	assert.Equal(t, 1, b.Stats().Held, "the fetch took more than the cap left")
	b.Want(0)
}

// TestFetchRacingASmallerCapKeepsToIt: another process states a cap of 1
// between a fetch's read (which saw only this process's cap of 3) and its
// transaction. The transaction must fail on the cap keys' changed mod
// revision, and the read again take only what the smaller cap leaves: a
// write of the first read's count took all three.
func TestFetchRacingASmallerCapKeepsToIt(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	const prefix = "/t/fetchrace/cap/"
	b := raceFetch(t, cli, prefix, "c/", strconv.Itoa(1))
	assert.LessOrEqual(t, holderSum(t, cli, prefix), 1, "the fleet's sum passed the smaller cap")
	b.Want(0)
}
