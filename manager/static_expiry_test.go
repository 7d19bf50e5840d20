package manager

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/tokens"
)

// TestAHandedInTokenServesNoLongerThanItsOwnExp: an application hands in
// a caller's token with an expiry of its own (from a token response's
// expires_in, a cache's TTL) that is later than the token's exp claim.
// The server goes by the token: once it has expired, a connection opened
// with it must not be handed to whoever presents the token again, as it
// was, until the later expiry the application named. Credential tokens
// were already capped at their exp claim (tokens.CredentialSource); a
// token handed in to StaticTokenIdentity was not.
func TestAHandedInTokenServesNoLongerThanItsOwnExp(t *testing.T) {
	for name, keep := range map[string]time.Duration{
		"its connection still idle": 2 * time.Hour, // a pool hit
		"its connection gone":       0,             // a new dial
	} {
		t.Run(name, func(t *testing.T) {
			clock := &skewClock{}
			m, db := newManager(t, Config{MaxSize: 2, Clock: clock, IdleTimeout: keep, MaxLifetime: keep, PoolIdleTimeout: keep})
			exp := clock.Now().Add(30 * time.Minute).Truncate(time.Second)
			tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"tid": "t1", "oid": "o1", "exp": exp.Unix()}).
				SignedString(jwt.UnsafeAllowNoneSignatureType)
			require.NoError(t, err)
			handedIn := func() tokens.Identity {
				id, err := tokens.StaticTokenIdentity(tok, clock.Now().Add(2*time.Hour))
				require.NoError(t, err)
				return id
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			l, err := m.Acquire(ctx, handedIn())
			require.NoError(t, err)
			l.Release(nil)

			clock.Advance(40 * time.Minute) // the token expired ten minutes ago
			l, err = m.Acquire(ctx, handedIn())
			if err == nil {
				l.Release(nil)
			}
			var te *actors.TokenExpiryError
			assert.True(t, errors.As(err, &te), "an expired token was served a connection: %v", err)
			assert.Len(t, db.DialAttempts(), 1, "a dial with the expired token")
		})
	}
}
