package fleet_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/idpool/idpool/fleet"
	"github.com/idpool/idpool/internal/etcdtest"
	"github.com/idpool/idpool/manager"
)

// TestCloseRefusesANilContext: Close given a nil ctx stopped the budget
// (closed, its lease forgotten, its worker ended) and then panicked in
// context.WithTimeout before the revocation, so the fleet got the permits
// back only at the lease's expiry, and a second Close did nothing. It now
// refuses a nil ctx first, naming it: the budget goes on granting, and a
// Close with a ctx then revokes the lease.
func TestCloseRefusesANilContext(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	b := newBudget(t, cli, fleet.Config{Prefix: "/t/nilctx/", Cap: 4, Batch: 1, IdleReturn: time.Hour})
	takeN(t, b, 1)
	b.Release() // none in use: Close revokes the lease
	lease := b.Stats().Lease
	require.NotZero(t, lease)

	var nilCtx context.Context
	var err error
	require.NotPanics(t, func() { err = b.Close(nilCtx) })
	require.ErrorIs(t, err, manager.ErrNilContext)
	assert.Contains(t, err.Error(), "Budget.Close")

	takeN(t, b, 1) // still granting
	b.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, b.Close(ctx))
	ttl, err := cli.TimeToLive(ctx, clientv3.LeaseID(lease))
	require.NoError(t, err)
	assert.EqualValues(t, -1, ttl.TTL, "the lease was revoked at Close")
}
