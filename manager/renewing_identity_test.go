package manager

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// principalToken is a JWT of one principal (tid t1, oid o1) that expires
// at exp, with that expiry.
func principalToken(t *testing.T, exp time.Time) tokens.Token {
	return tokens.Token{Value: unsignedJWT(t, jwt.MapClaims{"tid": "t1", "oid": "o1", "exp": exp.Unix()}), ExpiresOn: exp}
}

// renewingIdentity is a TokenFuncIdentity whose first token is first and
// whose later ones are renewals of the same principal, valid for three hours
// on clock: first keys its pool, and once first nears its expiry the
// renewals open its connections. The handed-in token tests hand first in.
func renewingIdentity(t *testing.T, clock *skewClock, first tokens.Token) tokens.Identity {
	var calls atomic.Int32
	id, err := tokens.TokenFuncIdentity(func(context.Context) (tokens.Token, error) {
		if calls.Add(1) == 1 {
			return first, nil
		}
		return principalToken(t, clock.Now().Add(3*time.Hour)), nil
	})
	require.NoError(t, err)
	return id
}
