package manager

import (
	"database/sql/driver"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/memdb"
)

// TestAHandOverOfAShellThatStillHoldsItsLease: a statement prepared on the
// lease itself (Conn.Lease().Conn()) and not closed keeps a facade shell's
// lease past its *sql.Conn, so database/sql later hands that shell over
// with the lease still bound. To the lease's own identity the hand-over
// resets the session, and a ResetTracker Dialer hears of that reset (or a
// reset lost by a call that failed before it was sent goes unnoticed); to
// another identity it is refused before the driver's connection is
// touched, and the call is served as its own identity on another
// connection.
func TestAHandOverOfAShellThatStillHoldsItsLease(t *testing.T) {
	for _, tc := range []struct {
		next string
		// resetOfHeld counts the held connection's driver resets from the
		// hand-over on: alice's is the hand-over's; bob's is only the
		// Release of alice's lease once database/sql discards the shell
		// whose hand-over was refused (no reset on bob's behalf first).
		resetOfHeld int
	}{
		{next: "alice", resetOfHeld: 1},
		{next: "bob", resetOfHeld: 1},
	} {
		t.Run("handed to "+tc.next, func(t *testing.T) {
			d := &resetTrackingDialer{DB: memdb.New(), resets: map[int64]int{}}
			m, _ := newManager(t, Config{MaxSize: 2, Dialer: d})
			db := openShellFacade(t, m)
			db.SetMaxOpenConns(1) // the next call can only be handed the held shell

			c, err := db.Conn(as("alice"))
			require.NoError(t, err)
			var held *Lease
			var stmt driver.Stmt
			require.NoError(t, c.Raw(func(raw any) error {
				held = raw.(*Conn).Lease()
				stmt, err = held.Conn().Prepare("SELECT IDENTITY")
				return err
			}))
			heldID := held.raw.(*memdb.Conn).ID()
			require.NoError(t, c.Close())
			require.Equal(t, 1, m.Stats().Total.Busy, "the open statement kept the shell's lease")
			before := resetsOf(d, heldID)

			var who string
			require.NoError(t, db.QueryRowContext(as(tc.next), "SELECT IDENTITY").Scan(&who))
			assert.Equal(t, "test:"+tc.next, who, "the call ran as its own identity")
			assert.Equal(t, tc.resetOfHeld, resetsOf(d, heldID)-before,
				"driver resets of the held connection at the hand-over")
			_ = stmt.Close()

			d.mu.Lock()
			defer d.mu.Unlock()
			for _, rec := range d.Conns() {
				assert.Equal(t, rec.Resets, d.resets[rec.ID], "conn %d: the driver's resets, and those reported to the ResetTracker", rec.ID)
			}
		})
	}
}

// resetsOf is the driver's count of ResetSession calls on the connection.
func resetsOf(d *resetTrackingDialer, id int64) int {
	for _, rec := range d.Conns() {
		if rec.ID == id {
			return rec.Resets
		}
	}
	return -1
}
