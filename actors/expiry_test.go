package actors

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// secretT is a token value easy to find in any text it leaks into.
const secretT = "SECRET-TOKEN-VALUE-T"

// mustFailExpiry checks that acquire id failed because of a refused token
// whose expiry the error names, without the token.
func (h *harness) mustFailExpiry(id uint64, tok tokens.Token) *TokenExpiryError {
	h.t.Helper()
	e, ok := h.answer(id)
	require.True(h.t, ok, "acquire %d unanswered", id)
	require.Equal(h.t, EffFail, e.Kind, "acquire %d must fail", id)
	var te *TokenExpiryError
	require.ErrorAs(h.t, e.Err, &te)
	var de *DialError
	require.ErrorAs(h.t, e.Err, &de)
	assert.True(h.t, de.Mint, "a refused token is a failed mint")
	assert.Equal(h.t, tok.ExpiresOn, te.ExpiresOn)
	if !tok.ExpiresOn.IsZero() {
		assert.Contains(h.t, e.Err.Error(), tok.ExpiresOn.UTC().Format(time.RFC3339))
	}
	assert.NotContains(h.t, e.Err.Error(), secretT)
	return te
}

// A dial that completes after its token expired: the connection is closed,
// not granted, and the waiter is served by a new mint and dial.
func TestFreshConnectionWhoseTokenExpiredDuringTheDialIsNotGranted(t *testing.T) {
	h := newHarness(t, tokenCfg())
	a := h.acquire()
	h.finishMint(h.tok("T1", 10*time.Minute), nil)
	require.Len(t, h.dials, 1)
	h.advance(11 * time.Minute) // a very slow login
	h.finishDial(nil)
	_, answered := h.answer(a)
	assert.False(t, answered, "not granted")
	assert.Equal(t, 1, h.closeReasons()[ReasonTokenExpired], "the connection is closed")
	require.Equal(t, 1, h.mints, "a new mint")
	h.finishMint(h.tok("T2", time.Hour), nil)
	require.Len(t, h.dials, 1)
	assert.Equal(t, "T2", h.dials[0].Value)
	h.finishDial(nil)
	c := h.mustGrant(a)
	assert.Equal(t, "T2", h.p.connOf(c).token.Value)
}

// A dial that completes with its token inside the threshold (not yet
// expired) is re-checked as an idle candidate is: the same token with a later
// expiry keeps it; the same token still near expiry does not.
func TestFreshConnectionWhoseTokenIsNearExpiryIsReChecked(t *testing.T) {
	t.Run("renewed", func(t *testing.T) {
		h := newHarness(t, tokenCfg())
		a := h.acquire()
		h.finishMint(h.tok(secretT, 10*time.Minute), nil)
		h.advance(6 * time.Minute) // 4 minutes left at completion
		h.finishDial(nil)
		_, answered := h.answer(a)
		require.False(t, answered, "not granted before the re-check")
		require.Equal(t, 1, h.mints)
		h.finishMint(h.tok(secretT, time.Hour), nil)
		h.mustGrant(a)
		assert.Empty(t, h.closes)
	})
	t.Run("still near expiry", func(t *testing.T) {
		h := newHarness(t, tokenCfg())
		a := h.acquire()
		tok := h.tok(secretT, 10*time.Minute)
		h.finishMint(tok, nil)
		h.advance(6 * time.Minute)
		h.finishDial(nil)
		h.finishMint(tok, nil) // the source still hands out the same token
		h.mustFailExpiry(a, tok)
		assert.Equal(t, 1, h.closeReasons()[ReasonTokenExpiring], "the connection is closed")
		assert.Empty(t, h.dials, "no dial with a token known to be near expiry")
	})
}

// A re-check that gets the same token back keeps the candidate only if the
// token is now valid beyond the threshold.
func TestReCheckReturningTheSameNearOrExpiredTokenDoesNotKeepTheCandidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		advance time.Duration // after release; the token lives 10 minutes
		life    time.Duration // of the token the re-check returns, from then
	}{
		{"same expiry, inside the threshold", 6 * time.Minute, 4 * time.Minute},
		{"later expiry, still inside the threshold", 6 * time.Minute, 5 * time.Minute},
		{"expired", 6 * time.Minute, -time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tokenCfg())
			a := h.acquire()
			h.finishMint(h.tok(secretT, 10*time.Minute), nil)
			h.finishDials()
			h.mustGrant(a)
			h.release(a, false)
			h.advance(tc.advance)
			b := h.acquire()
			require.Equal(t, 1, h.mints, "near expiry: re-check")
			back := h.tok(secretT, tc.life)
			h.finishMint(back, nil)
			h.mustFailExpiry(b, back)
			assert.Equal(t, 1, h.closeReasons()[ReasonTokenExpiring], "the candidate is closed")
			assert.Empty(t, h.dials)
			assert.Zero(t, h.p.Stats().Open)
		})
	}
}

// A mint that returns a token already expired, near expiry or of unknown
// expiry is never dialed with: the waiters fail with an error naming the
// expiry.
func TestRefusedTokenIsNeverDialed(t *testing.T) {
	h0 := newHarness(t, tokenCfg())
	for name, tok := range map[string]tokens.Token{
		"expired":          h0.tok(secretT, -time.Minute),
		"inside threshold": h0.tok(secretT, 4*time.Minute),
		"unknown expiry":   {Value: secretT},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, tokenCfg())
			a, b := h.acquire(), h.acquire()
			h.finishMint(tok, nil)
			assert.Empty(t, h.dials, "no dial with a refused token")
			te := h.mustFailExpiry(a, tok)
			h.mustFailExpiry(b, tok)
			assert.Zero(t, h.p.size(), "reservations released")
			assert.EqualValues(t, 1, h.p.Stats().MintFailures)
			if tok.ExpiresOn.IsZero() {
				assert.Contains(t, te.Error(), "no known expiry")
			}
			// A usable token later serves the next acquire.
			c := h.acquire()
			h.finishMint(h.tok("T2", time.Hour), nil)
			h.finishDials()
			h.mustGrant(c)
		})
	}
}

// A health check that ends after the candidate's token expired does not
// grant it.
func TestHealthCheckedConnectionWhoseTokenExpiredMeanwhileIsNotGranted(t *testing.T) {
	cfg := tokenCfg()
	cfg.HealthCheckAfter = time.Minute
	h := newHarness(t, cfg)
	a := h.acquire()
	h.finishMint(h.tok(secretT, 10*time.Minute), nil)
	h.finishDials()
	h.mustGrant(a)
	h.release(a, false)
	h.advance(2 * time.Minute)
	b := h.acquire()
	require.Len(t, h.validates, 1, "health check")
	h.advance(9 * time.Minute) // the check hangs past the token's expiry
	h.finishValidate(true)
	_, answered := h.answer(b)
	assert.False(t, answered)
	assert.Equal(t, 1, h.closeReasons()[ReasonTokenExpired])
	require.Equal(t, 1, h.mints)
	h.finishMint(h.tok("T2", time.Hour), nil)
	h.finishDials()
	h.mustGrant(b)
}

// The message of each kind of refusal.
func TestTokenExpiryErrorMessages(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		err  *TokenExpiryError
		want string
	}{
		{&TokenExpiryError{At: at, Threshold: 5 * time.Minute}, "no known expiry"},
		{&TokenExpiryError{ExpiresOn: at.Add(-time.Minute), At: at, Threshold: 5 * time.Minute}, "expired at 2026-01-02T03:03:05Z (1m0s ago)"},
		{&TokenExpiryError{ExpiresOn: at.Add(time.Minute), At: at, Threshold: 5 * time.Minute}, "expires at 2026-01-02T03:05:05Z, within the pool's token threshold of 5m0s"},
		// Further back than a Duration reaches (a zero date plus a second,
		// a source that set a placeholder): not 2562047h47m16s ago.
		{&TokenExpiryError{ExpiresOn: time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC), At: at, Threshold: 5 * time.Minute},
			"expired at 0001-01-01T00:00:01Z (over 292 years ago); refused"},
	} {
		assert.Contains(t, tc.err.Error(), tc.want)
	}
	var te *TokenExpiryError
	assert.True(t, errors.As(&DialError{Mint: true, Err: &TokenExpiryError{}}, &te))
}

// TestTokenThatCrossedTheThresholdDuringItsMintIsAskedForAgain: azidentity
// hands back its cached token until 5 minutes before it expires, the
// default threshold. A mint begun just before that point gets a token with
// a hair over 5 minutes left, which the pool, a few milliseconds later,
// finds inside the threshold. The waiters are not failed for it: the pool
// asks once more (azidentity, now inside its own window, refreshes) and
// dials with the new token. A token already inside the threshold when its
// mint began is refused at once, as before (TestRefusedTokenIsNeverDialed).
func TestTokenThatCrossedTheThresholdDuringItsMintIsAskedForAgain(t *testing.T) {
	h := newHarness(t, tokenCfg())
	a := h.acquire()
	crossing := h.tok("T1", 5*time.Minute+time.Millisecond)
	h.advance(3 * time.Millisecond) // the mint's round trip
	h.finishMint(crossing, nil)
	_, answered := h.answer(a)
	require.False(t, answered, "not failed for a token that crossed the threshold while minted")
	require.Empty(t, h.dials, "never dialed with it")
	require.Equal(t, 1, h.mints, "asked again")
	h.finishMint(h.tok("T2", time.Hour), nil)
	require.Len(t, h.dials, 1)
	assert.Equal(t, "T2", h.dials[0].Value)
	h.finishDials()
	h.mustGrant(a)
}

// TestTokenThatCrossesTheThresholdAgainIsRefused: the second mint is judged
// from its own start. A source that hands back the same token again (it
// does not refresh), or one that crosses again, gets the waiters failed:
// one retry per refusal, never a loop of mints.
func TestTokenThatCrossesTheThresholdAgainIsRefused(t *testing.T) {
	for _, again := range []string{"same token", "another crossing"} {
		t.Run(again, func(t *testing.T) {
			h := newHarness(t, tokenCfg())
			a := h.acquire()
			first := h.tok("T1", 5*time.Minute+time.Millisecond)
			h.advance(3 * time.Millisecond)
			h.finishMint(first, nil)
			require.Equal(t, 1, h.mints, "asked again")
			second := first
			if again == "another crossing" {
				second = h.tok("T2", 5*time.Minute+time.Millisecond)
			}
			h.advance(3 * time.Millisecond)
			h.finishMint(second, nil)
			h.mustFailExpiry(a, second)
			assert.Zero(t, h.mints, "no third mint")
			assert.Empty(t, h.dials)
			assert.EqualValues(t, 2, h.p.Stats().MintFailures, "both refusals count")
			// The next crossing, a token life later, is retried again.
			h.advance(time.Hour)
			b := h.acquire()
			third := h.tok("T3", 5*time.Minute+time.Millisecond)
			h.advance(3 * time.Millisecond)
			h.finishMint(third, nil)
			require.Equal(t, 1, h.mints, "a later crossing is asked again")
			h.finishMint(h.tok("T4", time.Hour), nil)
			h.finishDials()
			h.mustGrant(b)
		})
	}
}
