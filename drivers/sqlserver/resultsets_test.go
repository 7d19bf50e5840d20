package sqlserver_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// TestOpenDBNoFurtherResultSetKeepsTheConnection: a driver answers
// NextResultSet with io.EOF when there is no further result set, and
// go-mssqldb does so too for a result set not yet reached by Next (so
// does its sqlexp message loop, at the end of every query). The facade
// noted that io.EOF as a broken connection's error, as it would from a
// read (Next skips it): each such query closed its connection instead of
// giving it back, and the identity's next call logged in again.
func TestOpenDBNoFurtherResultSetKeepsTheConnection(t *testing.T) {
	rig := startBulkRig(t)
	ctx := tokens.WithIdentity(ctxT(t), rig.alice)
	for range 3 {
		rows, err := rig.db.QueryContext(ctx, "SELECT 1; SELECT 2")
		require.NoError(t, err)
		assert.False(t, rows.NextResultSet(), "go-mssqldb: none reached yet")
		require.NoError(t, rows.Close())
	}
	var n int
	require.NoError(t, rig.db.QueryRowContext(ctx, "SELECT 3").Scan(&n))
	assert.Equal(t, 3, n)
	for _, p := range rig.db.Manager.Stats().PerPool {
		if p.Acquires < 4 {
			continue // the default identity's, for the rig's table
		}
		assert.Zero(t, p.Closes["broken"], "no connection was closed as broken")
		assert.EqualValues(t, 1, p.Opens, "alice's one connection served every query")
		return
	}
	t.Fatal("no pool served alice's four queries")
}
