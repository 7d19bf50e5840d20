package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNoRetirementWhileAWithdrawalsAnswerIsDue: a grant that crossed a
// withdrawal leaves the pool with no request outstanding but the
// withdrawal's answer still to come. The pool asks to retire only after
// that answer: retired first, it would leave the manager's answer to a
// pool that no longer exists. Kills the mutant that drops
// withdrawalsInFlight from quiet.
func TestNoRetirementWhileAWithdrawalsAnswerIsDue(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 3, NeedsPermit: true, RetireAfter: time.Minute})
	a := h.acquire()
	h.cancel(a)
	require.Len(t, h.wdSeq, 1)
	h.grantPermit() // granted before the manager read the withdrawal
	require.Zero(t, h.permitsHeld, "handed straight back")
	require.Zero(t, h.p.Stats().AwaitingPermit)
	require.True(t, h.p.withdrawalsInFlight(), "the withdrawal's answer is still due")

	h.advance(time.Minute)
	h.tick()
	assert.Empty(t, h.retires, "no retirement while the withdrawal's answer is due")

	h.answerWithdraw()
	require.False(t, h.p.withdrawalsInFlight())
	h.advance(time.Minute)
	h.tick()
	assert.Len(t, h.retires, 1, "asked once the answer came")
}
