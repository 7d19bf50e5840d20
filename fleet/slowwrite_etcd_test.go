package fleet

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/idpool/idpool/internal/etcdtest"
)

// TestSlowWritesDoNotLapseTheLease: etcd applies writes through its raft log
// and a disk sync, so a slow disk or a busy cluster makes a fetch's
// transaction slow, while the leader answers a lease renewal from memory.
// The worker sent its renewals itself, between its other calls: a renewal
// that fell due while a fetch waited on etcd went out only after it. Here
// each of a fetch's transactions takes a quarter of the TTL (within its
// deadline of TTL/3) and loses its compare to another process's write, so
// the fetch reads and tries again (up to 5 times): no renewal was sent for
// longer than what was left of the lease after the last one (TTL − margin −
// TTL/3: 0.83s at a TTL of 2s), and the process counted a lease etcd would
// have renewed as lost, and asked for every connection to be closed. The
// renewal must go out while the fetch waits.
func TestSlowWritesDoNotLapseTheLease(t *testing.T) {
	const ttl = 2 * time.Second
	cli := etcdtest.StartClient(t, 1)
	const prefix = "/t/slowwrite/"
	other, err := cli.Grant(context.Background(), 60)
	require.NoError(t, err)
	var (
		b      *Budget
		armed  atomic.Bool
		start  atomic.Uint64
		lapsed atomic.Bool
		done   = make(chan struct{})
		once   sync.Once
	)
	setHook(&beforeTake, func() {
		if !armed.Load() {
			return
		}
		end := time.Now().Add(ttl / 4) // the transaction's time at etcd
		for time.Now().Before(end) {
			s := b.Stats()
			if s.Renewals > start.Load() || !s.LeaseValid {
				lapsed.Store(!s.LeaseValid)
				armed.Store(false)
				once.Do(func() { close(done) })
				return
			}
			time.Sleep(time.Millisecond) // a poll, while the transaction is on its way
		}
		// Another process writes a holder key meanwhile: the compare fails.
		_, err := cli.Put(context.Background(), prefix+"h/"+leaseName(other.ID), "0", clientv3.WithLease(other.ID))
		assert.NoError(t, err) // not require: this runs on the budget's goroutine
	})
	b = newHookedBudget(t, cli, Config{Prefix: prefix, Cap: 10, TTL: ttl, Batch: 1, IdleReturn: time.Hour},
		func() { beforeTake.Store(nil) })
	takeEach(t, b, 1, 1)
	start.Store(b.Stats().Renewals)
	armed.Store(true)
	b.Want(5) // a fetch, whose transactions are slow
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the fetch's transactions never saw a renewal or a lapse")
	}
	require.False(t, lapsed.Load(), "no renewal was sent while a fetch waited on etcd: the lease lapsed with etcd up")
}
