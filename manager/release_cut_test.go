package manager

import (
	"context"
	"database/sql/driver"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A lease whose transport was cut is closed at Release even when nothing
// else says it is broken: here the cut lands under a result set's Next,
// watched through its query's ctx, the driver reports the cut as an
// ordinary error (not a network one), the result set is closed, and the
// lease's latest operation ran under a ctx still alive. Kept, the dead
// connection went back to its pool for the identity's next caller.
func TestAReleaseAfterACutClosesTheConnection(t *testing.T) {
	d, clock := &stuckDialer{}, newGraceClock()
	m := newStuckManager(t, d, clock, testGrace)
	l, c := leaseOf(t, m)
	queryCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := l.Conn().QueryContext(queryCtx, "SELECT n", nil)
	require.NoError(t, err)
	_, err = l.Conn().ExecContext(context.Background(), "ok", nil)
	require.NoError(t, err)
	dest := make([]driver.Value, 1)
	require.NoError(t, r.Next(dest))
	got := make(chan error, 1)
	go func() { got <- r.Next(dest) }()
	c.awaitEntered(t)
	cancel()
	clock.awaitGrace(t)
	clock.advance(testGrace)
	require.ErrorIs(t, awaitCut(t, got), errTransportCut)
	require.False(t, l.broken(), "the driver's error broke the lease: this test needs only the cut to")
	require.NoError(t, r.Close())
	l.Release(nil)

	awaitCloses(t, d, 1)
	l2, c2 := leaseOf(t, m)
	defer l2.Release(nil)
	assert.NotSame(t, c, c2, "the cut connection was handed out again")
}
