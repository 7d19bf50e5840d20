package manager

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFleetFullTakesNoIdleConnectionForAMinSizeFill: pools whose MinSizes
// together exceed the fleet's cap. The MaxTotal book grants a fill only if
// there is room (never stealing for one), but the fleet gate counted a fill
// waiting for a fleet permit as a waiter, and on Full took another pool's
// idle connection for it; that pool, below its MinSize, asked for a fill in
// turn and took the connection back: the two pools dialled for ever
// (thousands of logins a second against the server). The gate now refuses
// a fill once the fleet says it is full, as the book does at MaxTotal.
func TestFleetFullTakesNoIdleConnectionForAMinSizeFill(t *testing.T) {
	fb := &capBudget{avail: 1}
	m, db := newManager(t, Config{MaxSize: 2, MinSize: 1, Fleet: fb, HealthCheckAfter: -1})
	t.Cleanup(func() {
		eventually(t, func() bool { return fb.inflight.Load() == 0 }, "the budget's signals delivered")
	})
	acquire(t, m, identity("alice")).Release(nil)
	// Bob's acquire needs alice's idle connection (the fleet's one permit):
	// that steal is for a caller, and alice's pool then waits to refill.
	acquire(t, m, identity("bob")).Release(nil)
	eventually(t, func() bool {
		a, _ := poolOfIdentity(m.Stats(), "alice")
		b, _ := poolOfIdentity(m.Stats(), "bob")
		return a.Open == 0 && a.AwaitingPermit == 0 && b.Open == 1
	}, "alice's fill refused at the fleet's cap, bob's connection kept")

	// No caller waits: nothing more may be taken from anyone. (A window
	// in which nothing must happen; the churn passed 1,000 dials in it.)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := db.Await(ctx, func() bool { return db.Opened() > 2 })
	require.ErrorIs(t, err, context.DeadlineExceeded, "pools took each other's connections for their MinSize: %d opened", db.Opened())
	assert.EqualValues(t, 1, m.Stats().Total.Closes["stolen"])
	assert.Equal(t, 1, db.OpenNow())
}
