package sqlserver_test

import (
	"context"
	"database/sql/driver"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
		t.Fatalf("Release still blocked %s after it began: the rollback of a transaction left open holds it", cancelGrace+cancelMargin)
	}
	eventually(t, func() bool { return m.Stats().Total.Open == 0 }, "the cut connection is closed")

	l2, err := m.Acquire(ctx, tokens.SQLLogin())
	require.NoError(t, err)
	defer l2.Release(nil)
	assert.NotEqual(t, spid, queryOne(t, ctx, l2.Conn(), "SELECT @@SPID"), "a new session, not the silenced one")
	assert.Equal(t, logins+1, rig.srv.Logins("app"), "one new login at the server")
}
