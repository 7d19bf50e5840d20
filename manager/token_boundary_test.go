package manager

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/tokens"
)

// boundarySource models azidentity at the edge of its cache window, on the
// pool's clock: its first answer is the cached token with a hair over 5
// minutes left (1 ms), and the round trip costs 100 ms. Later answers are
// refreshed tokens when refreshes is true (azidentity, inside its own
// window by then, asks the endpoint), the same cached token when false (a
// source that does not refresh).
type boundarySource struct {
	clock     *skewClock
	refreshes bool
	calls     atomic.Int32
	cached    atomic.Pointer[tokens.Token]
}

func (s *boundarySource) Token(context.Context) (tokens.Token, error) {
	n := s.calls.Add(1)
	defer s.clock.Advance(100 * time.Millisecond)
	if n == 1 {
		tok := tokens.Token{Value: "cached-token", ExpiresOn: s.clock.Now().Add(DefaultTokenThreshold + time.Millisecond)}
		s.cached.Store(&tok)
		return tok, nil
	}
	if !s.refreshes {
		return *s.cached.Load(), nil
	}
	return tokens.Token{Value: "refreshed-token", ExpiresOn: s.clock.Now().Add(time.Hour)}, nil
}

// TestTokenAtAzidentitysBoundaryIsAskedForAgain: with the default token
// threshold, a mint that lands just as its token crosses 5 minutes left
// does not fail the caller: the pool asks once more and logs in with the
// refreshed token.
func TestTokenAtAzidentitysBoundaryIsAskedForAgain(t *testing.T) {
	clock := &skewClock{}
	m, db := newManager(t, Config{MaxSize: 1, Clock: clock})
	src := &boundarySource{clock: clock, refreshes: true}
	id := tokens.New(tokens.KindProvidedToken, "test:boundary", src)
	l := acquire(t, m, id)
	defer l.Release(nil)
	assert.EqualValues(t, 2, src.calls.Load(), "the crossing token, then the refreshed one")
	attempts := db.DialAttempts()
	require.Len(t, attempts, 1, "one login")
	refreshed := tokens.Token{Value: "refreshed-token"}
	assert.Equal(t, refreshed.Fingerprint(), attempts[0].TokenFingerprint, "logged in with the refreshed token")
}

// TestTokenThatCrossesTheBoundaryTwiceFailsTheCaller: a source that hands
// back the crossing token again is not asked a third time: the acquire
// fails naming the token's expiry, and nothing logs in with it.
func TestTokenThatCrossesTheBoundaryTwiceFailsTheCaller(t *testing.T) {
	clock := &skewClock{}
	m, db := newManager(t, Config{MaxSize: 1, Clock: clock, DialBackoff: -1})
	src := &boundarySource{clock: clock}
	id := tokens.New(tokens.KindProvidedToken, "test:boundary", src)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := m.Acquire(ctx, id)
	var te *actors.TokenExpiryError
	require.ErrorAs(t, err, &te)
	assert.True(t, te.ExpiresOn.Equal(src.cached.Load().ExpiresOn), "the error names the crossing token's expiry")
	assert.NotContains(t, err.Error(), "cached-token")
	assert.EqualValues(t, 2, src.calls.Load(), "asked twice, not more")
	assert.Empty(t, db.DialAttempts(), "no login with a refused token")
}
