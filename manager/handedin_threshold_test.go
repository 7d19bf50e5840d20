package manager

import (
	"context"
	"errors"
	"testing"
	"time"

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
	firstTok := principalToken(t, expires)
	first := firstTok.Value
	fn := renewingIdentity(t, clock, firstTok)
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
