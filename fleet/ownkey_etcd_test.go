package fleet_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/idpool/idpool/fleet"
	"github.com/idpool/idpool/internal/etcdtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// openIdle opens n sessions on m, one identity each, and leaves them idle:
// each keeps its fleet permit.
func openIdle(t *testing.T, m *manager.Manager, prefix string, n int) {
	t.Helper()
	var ls []*manager.Lease
	for i := range n {
		l, err := m.Acquire(patient(t), ident(fmt.Sprint(prefix, i)))
		require.NoError(t, err)
		ls = append(ls, l)
	}
	for _, l := range ls {
		l.Release(nil)
	}
}

func holderKeyOf(prefix string, b *fleet.Budget) string {
	return prefix + "h/" + strconv.FormatInt(b.Stats().Lease, 16)
}

// Another program deletes a process's holder key while its sessions stay
// open. The other processes then read a lower sum and could open sessions
// of their own beyond the cap. The process sees the deletion on its watch
// and takes its permits back (with the compare, as any fetch), so another
// process opens a session only once it has closed one, and the server never
// counts more sessions than the cap. Before, the process learnt of it only at its next
// fetch, which never came while it needed nothing more.
func TestOwnHolderKeyDeletedIsTakenBack(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	ctx := context.Background()
	const prefix, capN = "/t/ownkey-del/", 4
	db := memdb.New()
	a := newBudget(t, cli, fleet.Config{Prefix: prefix, Cap: capN, Batch: 1, IdleReturn: time.Hour})
	ma := newManager(t, db, a)
	openIdle(t, ma, "a", capN)
	require.Equal(t, capN, fleetSum(t, cli, prefix))

	key := holderKeyOf(prefix, a)
	_, err := cli.Delete(ctx, key)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		r, err := cli.Get(ctx, key)
		return err == nil && len(r.Kvs) == 1 && string(r.Kvs[0].Value) == strconv.Itoa(capN)
	}, 10*time.Second, 5*time.Millisecond, "the process takes its key back")

	b := newBudget(t, cli, fleet.Config{Prefix: prefix, Cap: capN, Batch: 1, IdleReturn: time.Hour})
	mb := newManager(t, db, b)
	// b may get a session: while b waits, a keeps to its fair share and
	// closes idle ones. It never gets one while a's are all still open.
	l, err := mb.Acquire(ctx, ident("b"))
	assert.LessOrEqual(t, db.OpenNow(), capN, "sessions at the server")
	assert.LessOrEqual(t, fleetSum(t, cli, prefix), capN)
	if err == nil {
		l.Release(nil)
	} else {
		assert.ErrorIs(t, err, manager.ErrAcquireTimeout)
	}
}

// Another program lowers a process's holder key and, in the same
// transaction, gives the permits it took away to another holder (as a second
// process would take them from the lowered sum). The process cannot take
// them back, so it closes the sessions it no longer holds permits for: the
// fleet's sessions come back within the cap. Before, it kept all of them.
func TestOwnHolderKeyLoweredShedsWhatItLost(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	ctx := context.Background()
	const prefix, capN = "/t/ownkey-low/", 4
	db := memdb.New()
	a := newBudget(t, cli, fleet.Config{Prefix: prefix, Cap: capN, Batch: 1, IdleReturn: time.Hour})
	ma := newManager(t, db, a)
	openIdle(t, ma, "a", 3)
	require.Equal(t, 3, db.OpenNow())

	other, err := cli.Grant(ctx, 60)
	require.NoError(t, err)
	tx, err := cli.Txn(ctx).Then(
		clientv3.OpPut(holderKeyOf(prefix, a), "1", clientv3.WithLease(clientv3.LeaseID(a.Stats().Lease))),
		clientv3.OpPut(prefix+"h/"+strconv.FormatInt(int64(other.ID), 16), "3", clientv3.WithLease(other.ID)),
	).Commit()
	require.NoError(t, err)
	require.True(t, tx.Succeeded)
	require.Eventually(t, func() bool { return db.OpenNow() <= 1 }, 10*time.Second, 5*time.Millisecond,
		"the process keeps sessions whose permits another holds")
	assert.LessOrEqual(t, a.Stats().Held, 1)
	assert.LessOrEqual(t, fleetSum(t, cli, prefix), capN)
}
