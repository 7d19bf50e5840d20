package fleet_test

import (
	"context"
	"testing"
	"time"

	"github.com/idpool/idpool/fleet"
	"github.com/idpool/idpool/internal/etcdtest"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/stretchr/testify/require"
)

// TestCloseBeforeTheManagerShedsItsConnections: a Budget closed while its
// Manager still runs (closed out of order, or a shutdown that closes the
// Manager late) renews its lease no more, so etcd hands its permits to the
// others within the TTL. Its Manager must close the connections they
// covered, as after a lost lease: they used to stay open (an idle one until
// IdleTimeout, 5 minutes by default), and the fleet passed its cap at the
// server.
func TestCloseBeforeTheManagerShedsItsConnections(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	b := newBudget(t, cli, fleet.Config{Prefix: "/t/closefirst/", Cap: 4})
	db := memdb.New()
	m := newManager(t, db, b)
	idle, err := m.Acquire(patient(t), ident("a"))
	require.NoError(t, err)
	busy, err := m.Acquire(patient(t), ident("b"))
	require.NoError(t, err)
	idle.Release(nil)
	require.Equal(t, 2, db.OpenNow())

	require.NoError(t, b.Close(context.Background()))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, db.Await(ctx, func() bool { return db.OpenNow() == 1 }),
		"the idle connection stayed open after its budget closed")
	busy.Release(nil)
	require.NoError(t, db.Await(ctx, func() bool { return db.OpenNow() == 0 }),
		"the busy connection stayed open once released after its budget closed")
}
