package actors

import (
	"errors"
	"testing"

	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRefreshAheadDialsWithNoTokenOfAnOlderCredential: a RefreshAhead pool
// opens connections with the token it keeps fresh, but that token was
// minted with the credential of an earlier acquire. Once an acquire brings
// another credential, the next connection mints with it (the newest
// credential wins): a renewed on-behalf-of assertion that conditional
// access now refuses (an MFA challenge) must fail its caller, not be served
// on a session opened with the token minted before the policy.
func TestRefreshAheadDialsWithNoTokenOfAnOlderCredential(t *testing.T) {
	h, a := newRefreshAheadWithT(t)
	h.mustGrant(a) // held: the next acquire needs a new connection
	h.step(NewCredential{})
	b := h.acquire()
	require.Empty(t, h.dials, "a dial with the previous credential's token")
	require.Equal(t, 1, h.mints, "no mint with the credential b brought")
	mfa := errors.New("AADSTS50076: multi-factor authentication required")
	h.finishMint(tokens.Token{}, mfa)
	e, ok := h.answer(b)
	require.True(t, ok)
	assert.ErrorIs(t, e.Err, mfa, "b's own credential's error")
}
