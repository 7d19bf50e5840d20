package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSameTokenWithAnEarlierExpiryIsRecordedOnItsConnections: a connection
// logged in with T when the source said T lived an hour; a later mint (for
// a second connection) hands back the same T, now said to expire in 8
// minutes. The pool must judge every connection holding T by the newest
// expiry, as it does when a re-check hands back the same token: the first
// connection is not handed out after T's expiry, and the sweep closes it
// before.
func TestSameTokenWithAnEarlierExpiryIsRecordedOnItsConnections(t *testing.T) {
	h := newHarness(t, tokenCfg())
	a := h.acquire()
	h.finishMint(h.tok("T", time.Hour), nil)
	h.finishDials()
	c1 := h.mustGrant(a)
	b := h.acquire()
	require.Equal(t, 1, h.mints, "a second connection: mint")
	earlier := h.tok("T", 8*time.Minute)
	h.finishMint(earlier, nil)
	h.finishDials()
	c2 := h.mustGrant(b)
	h.release(b, false)
	h.release(a, false)
	assert.Equal(t, earlier.ExpiresOn, h.p.connOf(c1).token.ExpiresOn, "the newest expiry of T is recorded on c1")
	assert.Contains(t, h.wakes, earlier.ExpiresOn.Add(-h.p.cfg.TokenThreshold), "a wake for the sweep at T's new threshold")
	h.advance(3*time.Minute + time.Second) // T is inside the threshold now
	h.tick()
	assert.Equal(t, 2, h.closeReasons()[ReasonTokenExpiring], "both idle connections holding T are closed")
	assert.Nil(t, h.p.connOf(c1))
	assert.Nil(t, h.p.connOf(c2))
}

// TestSameTokenWithAnEarlierExpiryIsNotHandedOutPastIt: as above, but the
// checkout comes after T's newest expiry, before any sweep: c1 is not handed
// out on the strength of the later expiry it recorded at login.
func TestSameTokenWithAnEarlierExpiryIsNotHandedOutPastIt(t *testing.T) {
	h := newHarness(t, tokenCfg())
	a := h.acquire()
	h.finishMint(h.tok("T", time.Hour), nil)
	h.finishDials()
	c1 := h.mustGrant(a)
	b := h.acquire()
	h.finishMint(h.tok("T", 8*time.Minute), nil)
	h.finishDials()
	h.mustGrant(b)
	h.release(b, false)
	h.release(a, false)
	h.advance(9 * time.Minute) // T expired a minute ago
	c := h.acquire()
	e, ok := h.answer(c)
	require.False(t, ok && e.Kind == EffGrant && e.Conn == c1, "c1 handed out after its token expired")
	require.Equal(t, 1, h.mints, "no idle connection is usable: mint for a new one")
}

// TestADialInFlightTakesTheNewestExpiryOfItsToken: a dial starts with T,
// said to live an hour; while it is in flight a second mint hands back the
// same T, now said to expire in 8 minutes. The connection the first dial
// opens holds T, so it is judged by T's newest expiry, like the connections
// already open when that mint came (refreshExpiry), not by the hour it set
// out with.
func TestADialInFlightTakesTheNewestExpiryOfItsToken(t *testing.T) {
	h := newHarness(t, tokenCfg())
	a := h.acquire()
	h.finishMint(h.tok("T", time.Hour), nil)
	require.Len(t, h.dials, 1, "the first dial is in flight")
	b := h.acquire()
	require.Equal(t, 1, h.mints, "a second connection while the first dial is in flight: mint")
	earlier := h.tok("T", 8*time.Minute)
	h.finishMint(earlier, nil)
	h.finishDial(nil) // the first dial, begun with T's hour
	c1 := h.mustGrant(a)
	assert.Equal(t, earlier.ExpiresOn, h.p.connOf(c1).token.ExpiresOn, "c1 records T's newest expiry")
	h.finishDials()
	h.mustGrant(b)
	h.release(b, false)
	h.release(a, false)
	h.advance(9 * time.Minute) // T expired a minute ago
	c := h.acquire()
	e, ok := h.answer(c)
	require.False(t, ok && e.Kind == EffGrant && e.Conn == c1, "c1 handed out after its token expired")
}

// TestARefusedTokensExpiryIsRecordedOnItsConnections: two connections hold
// T, said to live an hour; a mint for a third hands back the same T, now
// said to expire in 3 minutes, inside the threshold, so it is refused. The
// refusal is still the newest word on T's expiry: the two connections must
// not be handed out on the hour they recorded once T has expired.
func TestARefusedTokensExpiryIsRecordedOnItsConnections(t *testing.T) {
	h := newHarness(t, tokenCfg())
	a, b := h.acquire(), h.acquire()
	h.finishMint(h.tok("T", time.Hour), nil)
	h.finishDials()
	c1, c2 := h.mustGrant(a), h.mustGrant(b)
	c := h.acquire()
	require.Equal(t, 1, h.mints, "a third connection: mint")
	refused := h.tok("T", 3*time.Minute)
	h.finishMint(refused, nil)
	h.mustFailExpiry(c, refused)
	assert.Equal(t, refused.ExpiresOn, h.p.connOf(c1).token.ExpiresOn, "c1 records T's newest expiry")
	assert.Equal(t, refused.ExpiresOn, h.p.connOf(c2).token.ExpiresOn, "c2 records T's newest expiry")
	h.release(a, false)
	h.release(b, false)
	h.advance(4 * time.Minute) // T expired a minute ago
	d := h.acquire()
	e, ok := h.answer(d)
	require.False(t, ok && e.Kind == EffGrant && (e.Conn == c1 || e.Conn == c2), "a connection handed out after its token expired")
}

// TestADialInFlightTakesARefusedTokensExpiry: as above, with the first
// connection's dial still in flight when the refused mint lands: the
// connection it opens holds T, so it records T's newest expiry, and is not
// granted on the strength of the hour it set out with.
func TestADialInFlightTakesARefusedTokensExpiry(t *testing.T) {
	h := newHarness(t, tokenCfg())
	a := h.acquire()
	h.finishMint(h.tok("T", time.Hour), nil)
	require.Len(t, h.dials, 1)
	b := h.acquire()
	require.Equal(t, 1, h.mints)
	refused := h.tok("T", 3*time.Minute)
	h.finishMint(refused, nil)
	h.finishDial(nil) // begun with T's hour
	require.Len(t, h.p.conns, 1)
	assert.Equal(t, refused.ExpiresOn, h.p.conns[0].token.ExpiresOn, "the new connection records T's newest expiry")
	for _, id := range []uint64{a, b} {
		if e, ok := h.answer(id); ok {
			assert.NotEqual(t, EffGrant, e.Kind, "acquire %d granted a connection whose token is inside the threshold", id)
		}
	}
}
