package fleet_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/fleet"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/memdb"
)

// TestABudgetNotFromNewFailsWithAnError: the careless caller's budgets,
// a failed New's nil result used anyway (`b, _ := fleet.New(cfg); defer
// b.Close(ctx)`) and a zero Budget declared or made with new, answer every
// method as a budget with no permit to give, and Close says what is wrong,
// instead of a nil-pointer panic (from Close, Stats, FleetStats). A
// Manager refuses the nil one as its Fleet.
func TestABudgetNotFromNewFailsWithAnError(t *testing.T) {
	failed, err := fleet.New(fleet.Config{})
	require.Error(t, err)
	for name, b := range map[string]*fleet.Budget{"a failed New's": failed, "a zero": new(fleet.Budget)} {
		t.Run(name, func(t *testing.T) {
			assert.False(t, b.TryAcquire(), "a permit from a budget that holds none")
			b.Want(3)
			b.Release()
			b.Subscribe(func(manager.BudgetSignal) { t.Error("a signal from a budget not from New") })
			assert.Zero(t, b.Stats())
			assert.Zero(t, b.FleetStats().Cap)
			err := b.Close(context.Background())
			require.ErrorIs(t, err, fleet.ErrNotFromNew)
			assert.Contains(t, err.Error(), "fleet.New")
		})
	}
	_, err = manager.New(manager.Config{Server: "memdb:1/fleet", Dialer: memdb.New(), MaxTotal: 4, Fleet: failed})
	require.Error(t, err, "a Manager over a nil budget")
}
