package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestARenewedTokenStillLeavesTheHealthCheckDue: a candidate whose token was
// near expiry and whose idle time passed HealthCheckAfter needs both checks:
// the token check comes first, and when the mint renews the same token the
// health check still runs before the grant (settleChecked). Kills the
// mutant that grants after the token check alone, handing out a connection
// idle too long to be trusted unchecked.
func TestARenewedTokenStillLeavesTheHealthCheckDue(t *testing.T) {
	cfg := tokenCfg()
	cfg.HealthCheckAfter = time.Minute
	h := newHarness(t, cfg)
	a := h.acquire()
	h.finishMint(h.tok("T", 10*time.Minute), nil)
	h.finishDials()
	h.release(a, false)
	h.advance(6 * time.Minute) // inside the token threshold and past HealthCheckAfter
	b := h.acquire()
	require.Equal(t, 1, h.mints, "the token check comes first")
	h.finishMint(h.tok("T", time.Hour), nil) // the same token, renewed
	require.Len(t, h.validates, 1, "the health check is still due")
	_, answered := h.answer(b)
	require.False(t, answered)
	h.finishValidate(true)
	h.mustGrant(b)
}
