package fleet_test

import (
	"context"
	"testing"
	"time"

	"github.com/idpool/idpool/fleet"
	"github.com/idpool/idpool/internal/etcdtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCloseWithPermitsInUseKeepsThemTakenInEtcd: a Budget closed while
// permits are in use (its Manager still runs) must not revoke its lease. The
// connections those permits cover stay open until the Manager closes them
// (see TestCloseBeforeTheManagerShedsItsConnections); a revocation would
// hand the permits to the other processes at once, and the fleet would pass
// its cap at the server meanwhile. They come back when the lease expires.
// Close also stops counting on the lease: Stats says so.
func TestCloseWithPermitsInUseKeepsThemTakenInEtcd(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	const prefix = "/t/closeinuse/"
	b := newBudget(t, cli, fleet.Config{Prefix: prefix, Cap: 2, Batch: 1, TTL: 10 * time.Second, IdleReturn: time.Hour})
	takeN(t, b, 2)
	require.Equal(t, 2, fleetSum(t, cli, prefix))
	require.True(t, b.Stats().LeaseValid)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, b.Close(ctx))
	assert.Equal(t, 2, fleetSum(t, cli, prefix), "Close gave back permits that cover connections still open")
	s := b.Stats()
	assert.False(t, s.LeaseValid, "a closed budget still counts on its lease")
	assert.Zero(t, s.Lease)
}
