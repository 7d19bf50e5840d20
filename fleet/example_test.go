package fleet_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/idpool/idpool/fleet"
	"github.com/idpool/idpool/internal/etcdtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The README's section "Past one process: a fleet budget" is the body of
// withFleet, word for word (TestReadmeFleetIsTheExample in cmd/idpool checks
// it); TestExampleFleetRuns runs it against a 3-member etcd.

// fleet:begin
func withFleet(ctx context.Context, endpoints []string, d manager.Dialer, id tokens.Identity) error {
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer cli.Close()
	// One budget per database server: every replica uses the same Prefix
	// and Cap (a little below the server's session limit; docs/FLEET.md).
	budget, err := fleet.New(fleet.Config{Client: cli, Prefix: "/idpool/sql1/", Cap: 90})
	if err != nil {
		return err
	}
	defer budget.Close(context.Background()) // after m.Close: revokes the lease
	m, err := manager.New(manager.Config{Server: "sql1:1433/appdb", Dialer: d, MaxTotal: 40, Fleet: budget})
	if err != nil {
		return err
	}
	defer m.Close(context.Background())

	l, err := m.Acquire(ctx, id) // at the fleet's cap: a *manager.FleetTimeoutError
	if err != nil {
		return err
	}
	defer l.Release(nil)
	st := m.Stats().Fleet
	fmt.Printf("this process holds %d fleet permits, %d in use; the fleet %d of %d\n", st.Held, st.InUse, st.FleetHeld, st.Cap)
	return nil
}

// fleet:end

// Example_fleet shares one session budget among the replicas of a service
// through etcd (it needs an etcd cluster, so it is compiled, not run, here;
// TestExampleFleetRuns runs it).
func Example_fleet() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id := tokens.SQLLogin()
	if err := withFleet(ctx, []string{"etcd1:2379", "etcd2:2379", "etcd3:2379"}, memdb.New(), id); err != nil {
		fmt.Println(err)
	}
}

// The README's fleet code runs: it acquires under the etcd budget, and its
// deferred closes give every permit back (the lease is revoked).
func TestExampleFleetRuns(t *testing.T) {
	cli := etcdtest.StartClient(t, 3)
	db := memdb.New()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, withFleet(ctx, cli.Endpoints(), db, ident("readme")))
	require.Zero(t, db.OpenNow())
	g, err := cli.Get(ctx, "/idpool/sql1/", clientv3.WithPrefix())
	require.NoError(t, err)
	require.Empty(t, g.Kvs, "Close revoked the lease: no permit is left in etcd")
}
