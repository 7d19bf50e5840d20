package manager

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

// A TokenFuncIdentity whose first token, the one its key is learned from,
// is already within TokenThreshold of its expiry (but not expired) is
// still served: the key is its holder's until the token expires, and the
// pool dials with a renewal, as it judges the tokens it dials with itself.
// Judged with TokenThreshold at the key's learning, such an identity was
// refused outright, though its token source renews.
func TestAKeyIsLearnedFromATokenWithinTokenThreshold(t *testing.T) {
	clock := &skewClock{}
	m, _ := newManager(t, Config{MaxSize: 1, Clock: clock})
	firstTok := principalToken(t, clock.Now().Truncate(time.Second).Add(2*time.Minute)) // within the default TokenThreshold
	l := acquire(t, m, renewingIdentity(t, clock, firstTok))
	defer l.Release(nil)
	require.NotEqual(t, tokens.Token{Value: firstTok.Value}.Fingerprint(), l.Raw().(*memdb.Conn).TokenFingerprint(), "the connection was opened with the renewal")
}
