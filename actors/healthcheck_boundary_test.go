package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAConnectionIdleExactlyHealthCheckAfterIsChecked: HealthCheckAfter
// checks a connection "idle at least this long" (PoolConfig). One idle for
// exactly that long is checked before it is handed out; one idle a moment
// less is not.
func TestAConnectionIdleExactlyHealthCheckAfterIsChecked(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 1, HealthCheckAfter: time.Second})
	a := h.acquire()
	h.finishDials()
	h.release(a, false)

	h.advance(time.Second - time.Nanosecond)
	b := h.acquire()
	h.mustGrant(b)
	require.Empty(t, h.validates, "idle less than HealthCheckAfter: no check")
	h.release(b, false)

	h.advance(time.Second)
	c := h.acquire()
	require.Len(t, h.validates, 1, "idle exactly HealthCheckAfter: checked first")
	_, answered := h.answer(c)
	require.False(t, answered, "granted only once the check passes")
	h.finishValidate(true)
	h.mustGrant(c)
}
