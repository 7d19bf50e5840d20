package actors

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestNewCredentialKeepsABlockingPeriodCausedByDials: a new credential ends
// a blocking period its mints caused (the new one may succeed where the old
// was refused), but not one its dials caused: the server refused or did
// not answer, whatever the token, and a caller that brings a new credential
// (one built per request) would otherwise end every period at once. Kills
// the mutant that ends the period on any failure.
func TestNewCredentialKeepsABlockingPeriodCausedByDials(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 2, DialBackoff: time.Minute})
	for range 2 {
		a := h.acquire()
		h.finishDial(errors.New("connection refused"))
		_, ok := h.answer(a)
		require.True(t, ok)
	}
	require.True(t, h.p.blocked(h.now))
	h.step(NewCredential{})
	require.True(t, h.p.blocked(h.now), "the dials failed, not the credential")
	b := h.acquire()
	e, ok := h.answer(b)
	require.True(t, ok, "failed fast inside the period")
	var be *BlockedError
	require.ErrorAs(t, e.Err, &be)
	require.Empty(t, h.dials)
}
