package manager

import (
	"database/sql/driver"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/memdb"
)

// resetTrackingDialer is a memdb Dialer that is a ResetTracker, as
// drivers/sqlserver's is: it counts, per connection, the session resets the
// Manager reports. It holds a lock of its own because it stands for a
// Dialer, which is the user's code, not the Manager's.
type resetTrackingDialer struct {
	*memdb.DB
	mu     sync.Mutex
	resets map[int64]int
}

func (d *resetTrackingDialer) SessionReset(c driver.Conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.resets[c.(*memdb.Conn).ID()]++
}

func (d *resetTrackingDialer) CallFailed(driver.Conn, error) {}

// TestResetTrackerHearsOfEveryDriverReset: a ResetTracker Dialer's driver
// (go-mssqldb under drivers/sqlserver) resets lazily: ResetSession only
// flags the connection, and the Dialer flags it again when a call failed
// before anything went out, but only if the Manager tells it that a reset
// took place. Every ResetSession that succeeded on the driver's connection,
// at Release as when database/sql hands a facade connection over, must be
// reported, or the next lease's first call, failed before it was sent, is
// followed by calls in the session the last lease left (its temporary
// tables, SET options, an open transaction).
func TestResetTrackerHearsOfEveryDriverReset(t *testing.T) {
	d := &resetTrackingDialer{DB: memdb.New(), resets: map[int64]int{}}
	m, _ := newManager(t, Config{MaxSize: 1, Dialer: d})

	// A lease released: Release resets the session.
	acquire(t, m, sqlLogin).Release(nil)
	acquire(t, m, sqlLogin).Release(nil)

	// Facade calls: the shell gives its lease back when database/sql
	// takes the connection back idle.
	facade := openFacade(t, m)
	facade.SetMaxOpenConns(1)
	for range 2 {
		var one int
		require.NoError(t, facade.QueryRowContext(as("alice"), "SELECT 1").Scan(&one))
	}
	require.NoError(t, facade.Close())

	d.mu.Lock()
	defer d.mu.Unlock()
	total := 0
	for _, c := range d.Conns() {
		assert.Equal(t, c.Resets, d.resets[c.ID], "conn %d: the driver's resets, and those reported to the ResetTracker", c.ID)
		total += c.Resets
	}
	require.GreaterOrEqual(t, total, 3, "the test reset sessions")
}
