package manager

import (
	"context"
	"database/sql"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A transaction whose ctx ended is rolled back by closing its connection,
// even when its last call ran under another ctx that is still alive: the
// rollback that runs nothing must break the lease itself, since the
// lease's last ctx does not. Otherwise the connection went back to its
// pool with the transaction still open on the server, for the identity's
// next caller to run inside. (Kills the mutant that drops
// trackedTx.Rollback's markBroken.)
func TestFacadeTxWhoseCtxEndedAfterALiveCallClosesTheConnection(t *testing.T) {
	m, spy, rollbacks := newRollbackManager(t)
	db := openFacade(t, m)
	ctx, cancel := context.WithCancel(as("alice"))
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(as("alice"), "INSERT") // a live ctx of its own
	require.NoError(t, err)
	cancel()
	if err := tx.Rollback(); err != nil {
		require.ErrorIs(t, err, sql.ErrTxDone)
	}
	eventually(t, func() bool { return spy.count("Close") == 1 }, "the connection of the cancelled transaction is closed")
	assert.Zero(t, rollbacks.Load(), "no rollback ran on the connection being closed")
	assert.Equal(t, uint64(1), m.Stats().Total.Closes["broken"], "closed as broken")
}
