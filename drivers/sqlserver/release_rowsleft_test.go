package sqlserver_test

import (
	"database/sql/driver"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// TestReleaseWithALeftOpenResultOnASilentServerIsBounded: the SQL
// Server side of 5b2bbf5, which only PostgreSQL tests pinned: a result set
// left open under context.Background(), the server silent mid-reply,
// Release. go-mssqldb's Close cancels and waits for the server's
// confirmation (5 s, twice); Release must return within CancelGrace of
// beginning, end go-mssqldb's reader, and give the slot back.
func TestReleaseWithALeftOpenResultOnASilentServerIsBounded(t *testing.T) {
	rig := startSilentRig(t)
	m := newCancelManager(t, rig.dsn, cancelGrace)
	l, err := m.Acquire(ctxT(t), tokens.SQLLogin())
	require.NoError(t, err)
	rows := queryOnLease(t, l, longReply())
	require.NoError(t, rows.Next(make([]driver.Value, 1)))
	rig.proxy.SilenceOpen()
	start := time.Now()
	l.Release(nil)
	took := time.Since(start)
	t.Logf("Release took %s", took.Round(time.Millisecond))
	require.Less(t, took, cancelGrace+cancelMargin, "Release bounded by CancelGrace from its start")
	awaitNoReader(t)
	require.Zero(t, m.Stats().Total.Busy)
}
