package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The edges of RefreshAhead's background mint: when it starts, when it mints
// nothing, and which token a dial may use without minting.

// newRefreshAheadWithT returns a RefreshAhead pool whose first acquire, a,
// has its connection open (not yet granted) with token T, valid for ten
// minutes: five beyond tokenCfg's five-minute threshold.
func newRefreshAheadWithT(t *testing.T) (*harness, uint64) {
	t.Helper()
	cfg := tokenCfg()
	cfg.RefreshAhead = true
	h := newHarness(t, cfg)
	a := h.acquire()
	h.finishMint(h.tok("T", 10*time.Minute), nil)
	h.finishDials()
	return h, a
}

// TestRefreshAheadWaitsForTheThreshold: the background mint starts once the
// newest token is inside the threshold, not before: a Tick earlier (for an
// idle timeout, a waiter's deadline) mints nothing, since azidentity would
// only hand back its cached token. Kills the mutant that refreshes a wider
// window ahead.
func TestRefreshAheadWaitsForTheThreshold(t *testing.T) {
	h, a := newRefreshAheadWithT(t)
	h.mustGrant(a)             // held: the sweep closes no connection at the threshold
	h.advance(4 * time.Minute) // T is valid for 6 minutes more, beyond the 5-minute threshold
	h.tick()
	require.Zero(t, h.mints, "no refresh while the token is valid beyond the threshold")
	h.advance(time.Minute)
	h.tick()
	require.Equal(t, 1, h.mints, "the refresh starts at the threshold")
}

// TestRefreshAheadMintsNothingForAPoolWithNoConnection: the background mint
// keeps a token fresh for the connections a pool has open; with none open
// (the last came back broken), a Tick past the threshold mints nothing: the
// next dial mints for itself, and an idle identity does not ask the token
// endpoint every token lifetime for nobody. Kills the mutant that leaves
// the open-connection test out of refreshAhead.
func TestRefreshAheadMintsNothingForAPoolWithNoConnection(t *testing.T) {
	h, a := newRefreshAheadWithT(t)
	h.release(a, true)
	h.finishCloses()
	require.Empty(t, h.p.conns)
	h.advance(6 * time.Minute)
	h.tick()
	require.Zero(t, h.mints)
}

// TestRefreshAheadDialsWithTheKeptTokenOnlyWhileItIsValidBeyondTheThreshold:
// a RefreshAhead pool dials with the newest token it holds without minting
// (startPermittedDial), but only while that token is valid beyond the
// threshold. Once it is inside (no Tick has started the background mint
// yet), a dial mints first: a session must not log in with a token about to
// expire. Kills the mutant that dials with any kept token.
func TestRefreshAheadDialsWithTheKeptTokenOnlyWhileItIsValidBeyondTheThreshold(t *testing.T) {
	h, a := newRefreshAheadWithT(t)
	h.mustGrant(a)

	h.advance(6 * time.Minute) // T is inside the 5-minute threshold
	b := h.acquire()           // a holds the only connection: b needs a dial
	require.Empty(t, h.dials, "no dial with a token inside the threshold")
	require.Equal(t, 1, h.mints, "a new token is minted first")
	fresh := h.tok("fresh", time.Hour)
	h.finishMint(fresh, nil)
	require.Len(t, h.dials, 1)
	require.Equal(t, fresh, h.dials[0])
	h.finishDials()
	h.mustGrant(b)
}
