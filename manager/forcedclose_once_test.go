package manager

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The operation a forced Close left the connection's Close to sends its
// pool CloseAfterOperation once, as it leaves, and clears the request with
// it: the lease outlives the forced Close (its holder still has it), and
// every later call on it is refused at the Manager's gate, on its way out
// through the same exit. Left set, each such refusal sent the pool another
// CloseAfterOperation, and the pool closed the driver connection (and ran
// BeforeClose) once more for each, after it had already been closed.
func TestTheCloseLeftToAnOperationIsAskedOnce(t *testing.T) {
	d := &stuckDialer{}
	m := newStuckManager(t, d, nil, -1)
	l, c := leaseOf(t, m)
	got := stuckExec(t, context.Background(), l, c)
	var ce *CloseError
	require.ErrorAs(t, closeNow(t, m), &ce)
	require.Equal(t, 1, ce.Forced)
	require.Eventually(t, func() bool { return l.state.Load()&stCloseAfter != 0 }, 10*time.Second, time.Millisecond,
		"the pool never left the connection's Close to the operation inside it")

	c.let()
	require.NoError(t, <-got)
	assert.Zero(t, l.state.Load()&stCloseAfter, "the operation left its lease still asking for the connection's Close")
	// A call the gate refuses passes the same exit: it must ask nothing.
	require.ErrorIs(t, l.Conn().Ping(context.Background()), ErrLeaseForceClosed)
	assert.Zero(t, l.state.Load()&stCloseAfter)
	awaitCloses(t, d, 1)
	l.Release(nil)
}
