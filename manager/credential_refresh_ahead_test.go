package manager

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRefreshAheadServesNoNewCredentialOnTheOldOnesToken: with
// TokenRefreshAhead the pool opens connections with the token it keeps,
// which the previous credential minted. A caller bringing a new credential
// (a renewed assertion that conditional access now refuses with an MFA
// challenge) needs a new connection: it must get its own credential's
// error, not a session opened with the token minted before the policy.
func TestRefreshAheadServesNoNewCredentialOnTheOldOnesToken(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 2, TokenRefreshAhead: true})
	var oldMints, newMints atomic.Int32
	mfa := errors.New("AADSTS50076: you must use multi-factor authentication")
	old := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&oldMints, "old-token", -1, nil))
	renewed := tokens.New(tokens.KindServicePrincipal, "sp:t1/app", mintCounting(&newMints, "", 0, mfa))
	held := acquire(t, m, old)
	defer held.Release(nil) // busy: the next acquire needs a new connection

	before := len(db.DialAttempts())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := m.Acquire(ctx, renewed)
	if l != nil {
		l.Release(nil)
	}
	for _, a := range db.DialAttempts()[before:] {
		assert.NotEqual(t, (tokens.Token{Value: "old-token"}).Fingerprint(), a.TokenFingerprint,
			"a session opened for the new credential's caller with the old credential's token")
	}
	require.Error(t, err, "the new credential's MFA challenge was hidden")
	assert.ErrorIs(t, err, mfa)
	assert.EqualValues(t, 1, newMints.Load(), "the caller's own credential was not asked")
}
