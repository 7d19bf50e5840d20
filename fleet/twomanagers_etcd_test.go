package fleet_test

import (
	"testing"

	"github.com/idpool/idpool/fleet"
	"github.com/idpool/idpool/internal/etcdtest"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/stretchr/testify/require"
)

// TestOneBudgetServesTwoManagers: the cap is the server's, and a Manager
// serves one database of it, so two Managers of one process (two databases
// on one server) may share one Budget. Each must hear the budget's signals:
// a Subscribe used to replace the earlier one, so the first Manager's dials
// that waited for a fetch were never told the permits had come, and timed
// out with permits at hand (nor would it have heard a Shed: its connections
// would have stayed open after its lease was lost).
func TestOneBudgetServesTwoManagers(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	b := newBudget(t, cli, fleet.Config{Prefix: "/t/twomanagers/", Cap: 4})
	first := newManager(t, memdb.New(), b)
	second := newManager(t, memdb.New(), b)
	l1, err := first.Acquire(patient(t), ident("a"))
	require.NoError(t, err, "the first Manager's dial waited for permits at hand")
	l2, err := second.Acquire(patient(t), ident("b"))
	require.NoError(t, err)
	l1.Release(nil)
	l2.Release(nil)
}
