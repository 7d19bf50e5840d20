package fleet_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/idpool/idpool/fleet"
	"github.com/idpool/idpool/internal/etcdtest"
	"github.com/stretchr/testify/require"
)

// Another program deletes the waiting key of a process that waits for
// permits. The holders then no longer see anyone waiting and keep the whole
// cap, and the process starved: it put its key only when it started waiting,
// and went on believing it was there. It now sees the deletion on its watch
// and puts the key again while it still waits, so the holder keeps to its
// fair share once more.
func TestWaitingKeyDeletedIsPutAgain(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	ctx := context.Background()
	const prefix, capN = "/t/waitkey/", 4
	a := newBudget(t, cli, fleet.Config{Prefix: prefix, Cap: capN, Batch: 1, IdleReturn: time.Hour})
	takeN(t, a, capN)
	b := newBudget(t, cli, fleet.Config{Prefix: prefix, Cap: capN, Batch: 1, IdleReturn: time.Hour})
	b.Want(1)
	require.Eventually(t, func() bool { return a.Stats().Shed == 2 }, 10*time.Second, time.Millisecond,
		"a keeps to its fair share while b waits")

	key := prefix + "w/" + strconv.FormatInt(b.Stats().Lease, 16)
	del, err := cli.Delete(ctx, key)
	require.NoError(t, err)
	require.EqualValues(t, 1, del.Deleted)
	require.Eventually(t, func() bool {
		r, err := cli.Get(ctx, key)
		return err == nil && len(r.Kvs) == 1 && r.Kvs[0].ModRevision > del.Header.Revision
	}, 10*time.Second, 5*time.Millisecond, "b puts its waiting key again")
	require.Eventually(t, func() bool { return a.Stats().Shed == 2 }, 10*time.Second, time.Millisecond,
		"a keeps to its fair share again")
	for range capN {
		a.Release()
	}
	require.Eventually(t, b.TryAcquire, 10*time.Second, time.Millisecond)
	b.Release()
}
