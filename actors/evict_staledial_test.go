package actors

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEvictWaitsForADialInFlight: Evict is answered once every connection
// of before it is gone, and a dial in flight at the call is one of them (it
// may log in with the credential or token the caller evicted to be rid
// of). Its answer waits for that dial to land and its connection's close to
// finish, not only for the connections open at the call.
func TestEvictWaitsForADialInFlight(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 2})
	a := h.acquire()
	require.Len(t, h.dials, 1)

	h.evict("e")
	require.Empty(t, h.evicted, "a dial of before the Evict is still in flight")
	h.finishDial(nil)
	require.Equal(t, map[CloseReason]int{ReasonEvicted: 1}, h.closeReasons(), "its connection is closed, not used")
	require.Empty(t, h.evicted, "its close has not finished")
	h.finishCloses()
	require.Equal(t, []any{"e"}, h.evicted)

	h.finishDials() // the waiter's new dial
	h.mustGrant(a)
}
