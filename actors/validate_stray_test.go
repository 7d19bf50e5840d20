package actors

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAValidateDoneForALeasedConnectionIsIgnored: a ValidateDone counts
// only for a connection in a health check. One naming a leased connection
// (a stray or repeated message) must change nothing: taken as a passed
// check, it parked the leased connection idle, and the next acquire was
// granted the connection its holder still uses. Kills the mutant that drops
// the state test from validateDone.
func TestAValidateDoneForALeasedConnectionIsIgnored(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 2})
	a := h.acquire()
	h.finishDials()
	ca := h.mustGrant(a)
	h.step(ValidateDone{Conn: ca, OK: true})
	require.Empty(t, h.p.idle, "the leased connection stays leased")
	b := h.acquire()
	require.Len(t, h.dials, 1, "b needs a connection of its own")
	h.finishDials()
	require.NotEqual(t, ca, h.mustGrant(b))
}
