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
	setHook(&afterKeysRead, func() {
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
	})
	b := newHookedBudget(t, cli, Config{Prefix: prefix, Cap: 4, TTL: 3 * time.Second, Batch: 1, IdleReturn: time.Hour},
		func() { afterKeysRead.Store(nil) })
	takeEach(t, b, 3, 2)
	require.Eventually(t, func() bool { s := b.Stats(); return s.Held == 2 && s.InUse == 2 }, 10*time.Second, time.Millisecond,
		"the budget keeps more than its fair share while another process waits: %+v", b.Stats())
	require.False(t, b.TryAcquire(), "a permit beyond the fair share")
	b.Release()
	b.Release()
}

// watchGap holds a budget's watch down after its first read of the keys, so
// that a test can change keys while it is down (see newGappedBudget).
type watchGap struct {
	t       *testing.T
	cli     *clientv3.Client
	release chan struct{}
	once    sync.Once
}

// newGappedBudget starts a budget whose watch, after its first read of the
// keys, waits until the test calls end (or the test ends). Everything the
// budget does meanwhile (grant, fetch, give back) the watch will not see as
// events: end compacts etcd past them, so the watch, started at the revision
// after its read, is cancelled (ErrCompacted) and learns of the keys only from
// its second read.
func newGappedBudget(t *testing.T, cli *clientv3.Client, cfg Config) (*Budget, *watchGap) {
	t.Helper()
	g := &watchGap{t: t, cli: cli, release: make(chan struct{})}
	var first sync.Once
	setHook(&afterKeysRead, func() { first.Do(func() { <-g.release }) })
	b := newHookedBudget(t, cli, cfg, func() { afterKeysRead.Store(nil) })
	// Registered after newHookedBudget's cleanup, so it runs before Close,
	// which waits for the watch.
	t.Cleanup(g.open)
	return b, g
}

// open lets the held watch go on.
func (g *watchGap) open() { g.once.Do(func() { close(g.release) }) }

// end runs change (writes to etcd while the watch is down), compacts etcd
// past it and lets the watch go on: its start revision is gone, so etcd
// cancels it and it reads the keys again.
func (g *watchGap) end(change func()) {
	g.t.Helper()
	change()
	r, err := g.cli.Put(context.Background(), "/t/unrelated", "x")
	require.NoError(g.t, err)
	_, err = g.cli.Compact(context.Background(), r.Header.Revision)
	require.NoError(g.t, err)
	g.open()
}

// TestWatchRestartWakesTheWorker puts another process's waiting key while the
// budget's watch is down, and compacts etcd so that the watch's restart reads
// the keys again: that read is the only thing that tells the budget another
// process waits. The budget must give back its spare permits at once, without
// any other event (its renewals are 20s apart, and nothing takes or releases a
// permit). It gave them back only at its next renewal: the re-read noted the
// waiter but did not wake the worker.
func TestWatchRestartWakesTheWorker(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	ctx := context.Background()
	const prefix = "/t/restartwake/"
	b, gap := newGappedBudget(t, cli, Config{Prefix: prefix, Cap: 4, TTL: time.Minute, Batch: 2, IdleReturn: time.Hour})
	takeEach(t, b, 1, 1)
	b.Want(0)
	require.Equal(t, 3, b.Stats().Held, "1 in use and a spare of Batch 2")

	other, err := cli.Grant(ctx, 60)
	require.NoError(t, err)
	gap.end(func() {
		_, err := cli.Put(ctx, prefix+"w/"+leaseName(other.ID), "1", clientv3.WithLease(other.ID))
		require.NoError(t, err)
	})
	require.Eventually(t, func() bool { return b.Stats().Held == 1 && holderSum(t, cli, prefix) == 1 }, 10*time.Second, 5*time.Millisecond,
		"the budget keeps its spares while another process waits: %+v", b.Stats())
	b.Release()
}

// TestOwnCapKeyDeletedDuringAWatchGapIsPutAgain deletes the budget's cap key
// while its watch is down: no event will show the deletion, only the watch's
// re-read of the keys, which finds the key missing. The budget must put it
// again, with its lease, at once (its renewals are 20s apart).
func TestOwnCapKeyDeletedDuringAWatchGapIsPutAgain(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	ctx := context.Background()
	const prefix = "/t/capkeygap/"
	b, gap := newGappedBudget(t, cli, Config{Prefix: prefix, Cap: 4, TTL: time.Minute, Batch: 1, IdleReturn: time.Hour})
	takeEach(t, b, 1, 1) // the cap key is put before this first permit
	lease := clientv3.LeaseID(b.Stats().Lease)
	key := b.capKeyOf(lease)

	var deleted int64
	gap.end(func() {
		r, err := cli.Delete(ctx, key)
		require.NoError(t, err)
		require.EqualValues(t, 1, r.Deleted)
		deleted = r.Header.Revision
	})
	require.Eventually(t, func() bool {
		r, err := cli.Get(ctx, key)
		return err == nil && len(r.Kvs) == 1 && r.Kvs[0].ModRevision > deleted &&
			string(r.Kvs[0].Value) == "4" && clientv3.LeaseID(r.Kvs[0].Lease) == lease
	}, 10*time.Second, 5*time.Millisecond, "the budget puts its cap key again")
	b.Release()
}

// TestOwnWaitingKeyDeletedDuringAWatchGapIsPutAgain deletes the waiting key
// of a budget that waits (another process holds the whole cap) while its
// watch is down: no event will show the deletion, only the watch's re-read of
// the keys, which finds the key missing. The budget still waits, so it must
// put the key again, at once (it would check the full fleet again only 20s
// later), or the holders would no longer keep to their fair share.
func TestOwnWaitingKeyDeletedDuringAWatchGapIsPutAgain(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	ctx := context.Background()
	const prefix = "/t/waitkeygap/"
	other, err := cli.Grant(ctx, 60)
	require.NoError(t, err)
	_, err = cli.Put(ctx, prefix+"h/"+leaseName(other.ID), "4", clientv3.WithLease(other.ID))
	require.NoError(t, err)
	b, gap := newGappedBudget(t, cli, Config{Prefix: prefix, Cap: 4, TTL: time.Minute, Batch: 1, IdleReturn: time.Hour})
	b.Want(1)
	var key string
	require.Eventually(t, func() bool {
		key = b.waitingKeyOf(clientv3.LeaseID(b.Stats().Lease))
		r, err := cli.Get(ctx, key)
		return err == nil && len(r.Kvs) == 1
	}, 10*time.Second, 5*time.Millisecond, "the budget finds the fleet full and waits")

	var deleted int64
	gap.end(func() {
		r, err := cli.Delete(ctx, key)
		require.NoError(t, err)
		require.EqualValues(t, 1, r.Deleted)
		deleted = r.Header.Revision
	})
	require.Eventually(t, func() bool {
		r, err := cli.Get(ctx, key)
		return err == nil && len(r.Kvs) == 1 && r.Kvs[0].ModRevision > deleted
	}, 10*time.Second, 5*time.Millisecond, "the budget puts its waiting key again")
	b.Want(0)
}
