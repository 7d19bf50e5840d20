package actors

import (
	"errors"
	"testing"
	"time"

	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/require"
)

// TestAFailedMintDoesNotKeepAConnectionWhoseTokenExpiredDuringIt: when the
// mint of a token check fails, a connection whose token the server still
// accepts is used rather than failing its caller (mintFailed), but only
// while that token has not expired. A mint can take longer than the
// threshold left: a token that expired meanwhile must not be handed out on
// the strength of its having been valid when the check began. Its caller
// fails with the mint's error, and the connection is closed.
func TestAFailedMintDoesNotKeepAConnectionWhoseTokenExpiredDuringIt(t *testing.T) {
	h := newHarness(t, tokenCfg()) // threshold 5m
	a := h.acquire()
	h.finishMint(h.tok("T1", 6*time.Minute), nil)
	h.finishDials()
	h.mustGrant(a)
	h.release(a, false)

	h.advance(2 * time.Minute) // inside the threshold, not expired
	b := h.acquire()
	require.Equal(t, 1, h.mints, "a token check: the pool mints")
	h.advance(5 * time.Minute) // the mint hangs past the token's expiry
	h.finishMint(tokens.Token{}, errors.New("token endpoint down"))

	e, ok := h.answer(b)
	require.True(t, ok, "the caller is answered")
	require.Equal(t, EffFail, e.Kind, "an expired token is not handed out")
	var derr *DialError
	require.ErrorAs(t, e.Err, &derr)
	require.Equal(t, 1, h.closeReasons()[ReasonTokenExpiring])
}
