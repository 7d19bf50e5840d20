package manager

import (
	"context"
	"database/sql/driver"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A result set's call begun once its query's ctx ended and the grace had
// passed is watched on its own (see enterCalls); when it returns in time,
// that watch ends with it. Here the connection then goes, reset, to the
// next lease (a later call under a live ctx was the lease's last): a watch
// left behind would cut that lease's connection once its grace passed.
// (Kills the mutant that drops leaveCalls' own.Stop.)
func TestAResultSetCallBegunAfterTheGraceLeavesNoWatchOnceReturned(t *testing.T) {
	d, clock := &stuckDialer{}, newGraceClock()
	m := newStuckManager(t, d, clock, testGrace)
	l, c := leaseOf(t, m)
	ctx, cancel := context.WithCancel(context.Background())
	rows, err := l.Conn().QueryContext(ctx, "SELECT n", nil)
	require.NoError(t, err)
	dest := make([]driver.Value, 1)
	require.NoError(t, rows.Next(dest))
	cancel()
	clock.awaitGrace(t)
	clock.advance(testGrace) // no call in flight: nothing to cut, the query's watch is past

	got := make(chan error, 1)
	go func() { got <- rows.Next(dest) }()
	c.awaitEntered(t)
	c.let() // the late call returns before its own grace has passed
	require.ErrorIs(t, <-got, io.EOF)
	clock.awaitGrace(t) // the late call's own: begun once its ctx's end was seen
	require.NoError(t, rows.Close())
	_, err = l.Conn().ExecContext(context.Background(), "SELECT 1", nil)
	require.NoError(t, err)
	l.Release(nil)

	l2, c2 := leaseOf(t, m)
	require.Same(t, c, c2, "the connection serves the next lease")
	clock.advance(time.Hour)
	assert.Zero(t, d.aborts.Load(), "another lease's connection was cut by a call that had returned")
	l2.Release(nil)
}
