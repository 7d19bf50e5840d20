package manager

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A call the Manager's gate refuses, once a forced Close has begun, is not
// left counted in flight: the forced Close waits for the count to reach
// zero (up to CloseGrace) before it goes on, and each such refusal
// counted one operation more that never ends.
func TestACallRefusedByAForcedCloseIsNotCountedInFlight(t *testing.T) {
	d := &stuckDialer{}
	m := startManager(t, Config{Server: "stuck:1/db", Dialer: d, CancelGrace: -1, HealthCheckAfter: -1, MaxSize: 2})
	l, c := leaseOf(t, m)
	idle, _ := leaseOf(t, m)
	got := stuckExec(t, context.Background(), l, c)
	closed := make(chan error, 1)
	go func() { closed <- closeNow(t, m) }()
	require.Eventually(t, m.gate.forced.Load, 10*time.Second, time.Millisecond, "the forced Close never began")

	require.ErrorIs(t, idle.Conn().Ping(context.Background()), ErrLeaseForceClosed)
	assert.EqualValues(t, 1, m.gate.ops.Load(), "operations counted in flight: only the stuck call is")
	c.let()
	require.NoError(t, <-got)
	assert.Zero(t, m.gate.ops.Load(), "operations counted in flight after the last one left")
	<-closed
	idle.Release(nil)
	l.Release(nil)
}
