package manager

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

// TestAHandedInTokenWithinTokenThresholdGetsNoHit: the case of
// TestAnExpiredHandedInTokenGetsNoHitOnItsKeysNewerConnections a few
// minutes earlier. A TokenFuncIdentity's first token T keys its pool, and
// once T is within TokenThreshold of its expiry the identity's connections
// are opened with its renewals. Whoever holds T and hands it in must not be
// served them: the pool itself would refuse to dial with T now, so a hit
// must not let it through either. It fails with a TokenExpiryError before
// its pool is looked up, though T has not expired yet.
func TestAHandedInTokenWithinTokenThresholdGetsNoHit(t *testing.T) {
	clock := &skewClock{}
	keep := 10 * time.Hour
	m, _ := newManager(t, Config{MaxSize: 2, Clock: clock, IdleTimeout: keep, MaxLifetime: keep, PoolIdleTimeout: keep})
	start := clock.Now().Truncate(time.Second)
	expires := start.Add(30 * time.Minute)
	first := unsignedJWT(t, jwt.MapClaims{"tid": "t1", "oid": "o1", "exp": expires.Unix()})
	var calls atomic.Int32
	fn, err := tokens.TokenFuncIdentity(func(context.Context) (tokens.Token, error) {
		if calls.Add(1) == 1 {
			return tokens.Token{Value: first, ExpiresOn: expires}, nil
		}
		exp := clock.Now().Add(3 * time.Hour)
		return tokens.Token{Value: unsignedJWT(t, jwt.MapClaims{"tid": "t1", "oid": "o1", "exp": exp.Unix()}), ExpiresOn: exp}, nil
	})
	require.NoError(t, err)
	acquire(t, m, fn).Release(nil)

	clock.Advance(28 * time.Minute) // T expires in two minutes: within the default TokenThreshold
	l := acquire(t, m, fn)
	require.NotEqual(t, tokens.Token{Value: first}.Fingerprint(), l.Raw().(*memdb.Conn).TokenFingerprint(), "the identity's connection has its renewal")
	l.Release(nil)

	static, err := tokens.StaticTokenIdentity(first, expires)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err = m.Acquire(ctx, static)
	if err == nil {
		got := l.Raw().(*memdb.Conn).TokenFingerprint()
		l.Release(nil)
		t.Fatalf("a handed-in token within TokenThreshold of its expiry was served a connection (logged in with %s)", got)
	}
	var te *actors.TokenExpiryError
	require.True(t, errors.As(err, &te), "%v", err)
	require.NotContains(t, err.Error(), first)
}
