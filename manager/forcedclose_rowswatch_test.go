package manager

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A result set its caller leaves open and never closes, on a lease
// released after a forced Close began: the hand-back abandons it to the
// forced Close, and ends the watch on its query's ctx there, so that ctx
// ending later begins no grace and cuts nothing. (Kills the mutant that
// drops abandonLeftRows' calls.Stop: the existing test closes the result
// set, whose refused Close stops the watch too.)
func TestAResultSetAbandonedToAForcedCloseLeavesNoWatch(t *testing.T) {
	d, clock := &stuckDialer{}, newGraceClock()
	m := newStuckManager(t, d, clock, testGrace)
	l, _ := leaseOf(t, m)
	qctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := l.Conn().QueryContext(qctx, "SELECT n", nil)
	require.NoError(t, err)
	_ = closeNow(t, m)
	awaitCloses(t, d, 1)
	l.Release(nil) // the gate refuses: the result set is abandoned, not closed
	assert.Zero(t, d.rowsCloses.Load(), "the result set was closed, not abandoned")
	cancel()
	clock.noGraceBegins(t, "the abandoned result set's watch outlived the hand-back")
	clock.advance(time.Hour)
}
