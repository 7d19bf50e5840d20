package manager

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A result set closed twice closes the driver's once: the second Close
// answers nil without reaching the driver, whose rows may not tolerate a
// second Close (database/sql guards its own the same way). (Kills the
// mutant that drops rows.Close's closed flag.)
func TestAResultSetClosedTwiceClosesTheDriversOnce(t *testing.T) {
	d := &stuckDialer{}
	m := startManager(t, Config{Server: "stuck:1/db", Dialer: d, CancelGrace: -1, HealthCheckAfter: -1, MaxSize: 1})
	l, _ := leaseOf(t, m)
	defer l.Release(nil)
	rows, err := l.Conn().QueryContext(context.Background(), "SELECT n", nil)
	require.NoError(t, err)
	require.NoError(t, rows.Close())
	require.NoError(t, rows.Close())
	assert.Equal(t, int64(1), int64(d.rowsCloses.Load()), "the driver's result set was closed again")
}
