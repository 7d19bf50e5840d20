package sqlserver_test

import (
	"context"
	"database/sql/driver"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// Release rolls back a transaction its caller left open, and go-mssqldb
// sends that rollback, and waits for its answer, under the transaction's
// BeginTx ctx: with context.Background() (what most callers pass) and a
// server that stopped answering, Release blocked for good, holding its
// caller and the lease's slot. It is bounded by CancelGrace from Release,
// whatever that ctx; cancelMargin covers scheduling on a loaded machine.
func TestReleaseWithATransactionLeftOpenOnASilentServerReturnsWithinCancelGrace(t *testing.T) {
	rig := startSilentRig(t)
	m := newCancelManager(t, rig.dsn, cancelGrace)
	ctx := ctxT(t)
	l, err := m.Acquire(ctx, tokens.SQLLogin())
	require.NoError(t, err)
	spid := queryOne(t, ctx, l.Conn(), "SELECT @@SPID")
	_, err = l.Conn().BeginTx(context.Background(), driver.TxOptions{})
	require.NoError(t, err)
	require.NoError(t, execOn(context.Background(), l.Conn(), "SELECT 1"))
	logins := rig.srv.Logins("app")
	rig.proxy.SilenceOpen()

	releaseWithinCancelGrace(t, l, "the rollback of a transaction left open")
	eventually(t, func() bool { return m.Stats().Total.Open == 0 }, "the cut connection is closed")

	l2, err := m.Acquire(ctx, tokens.SQLLogin())
	require.NoError(t, err)
	defer l2.Release(nil)
	assert.NotEqual(t, spid, queryOne(t, ctx, l2.Conn(), "SELECT @@SPID"), "a new session, not the silenced one")
	assert.Equal(t, logins+1, rig.srv.Logins("app"), "one new login at the server")
}

// TestReleaseWithALeftOpenResultOnASilentServerIsBounded: a result set
// left open under context.Background(), the server silent mid-reply,
// Release. go-mssqldb's Close cancels and waits for the server's
// confirmation (5 s, twice); Release must return within CancelGrace of
// beginning, end go-mssqldb's reader, and give the slot back.
func TestReleaseWithALeftOpenResultOnASilentServerIsBounded(t *testing.T) {
	watchReaders()
	rig := startSilentRig(t)
	m := newCancelManager(t, rig.dsn, cancelGrace)
	l, err := m.Acquire(ctxT(t), tokens.SQLLogin())
	require.NoError(t, err)
	rows := queryOnLease(t, l, longReply())
	require.NoError(t, rows.Next(make([]driver.Value, 1)))
	rig.proxy.SilenceOpen()
	releaseWithinCancelGrace(t, l, "the Close of a result set left open")
	awaitNoReader(t)
	require.Zero(t, m.Stats().Total.Busy)
}

// releaseWithinCancelGrace releases l on a goroutine of its own and fails
// the test unless Release returns within CancelGrace, counted from its
// start, and cancelMargin (scheduling on a loaded machine). what names the
// wait that would hold it.
func releaseWithinCancelGrace(t *testing.T, l *manager.Lease, what string) {
	t.Helper()
	released := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		l.Release(nil)
		released <- time.Since(start)
	}()
	select {
	case took := <-released:
		t.Logf("Release returned after %s", took.Round(time.Millisecond))
	case <-time.After(cancelGrace + cancelMargin):
		t.Fatalf("Release still blocked %s after it began: %s holds it", cancelGrace+cancelMargin, what)
	}
}
