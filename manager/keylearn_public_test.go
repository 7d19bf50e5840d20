package manager

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

// TestAnExpiredTokenTeachesNoKeyThroughDiscriminator: Acquire learns no key
// from an expired token (TestAnExpiredTokenTeachesNoKey), but a key learned
// is never judged again, whoever learned it. Identity.Discriminator (and
// ResolveKey) are public, documented as the identity part of the pool key,
// and an application calls them to key a cache of its own or to name the
// identity in its logs before it acquires. They learned the key from the
// expired token T of a TokenFuncIdentity built over it: the next Acquire
// found the key known, and was served the connections the identity whose
// first token T was opened with its newer tokens. A key is learned from no
// expired token, by any path.
func TestAnExpiredTokenTeachesNoKeyThroughDiscriminator(t *testing.T) {
	clock := &skewClock{}
	clock.Advance(-2 * time.Hour) // the victim's first token is valid on this clock
	keep := 10 * time.Hour
	m, db := newManager(t, Config{MaxSize: 2, Clock: clock, IdleTimeout: keep, MaxLifetime: keep, PoolIdleTimeout: keep})
	// Expired an hour ago, in real time (and, once the clock moves, on the
	// Manager's).
	firstExp := time.Now().Add(-time.Hour).Truncate(time.Second)
	first := principalToken(t, firstExp)
	victim := renewingIdentity(t, clock, first)
	acquire(t, m, victim).Release(nil) // learns its key from its first token, valid then
	clock.Advance(2 * time.Hour)       // the first token expired an hour ago
	acquire(t, m, victim).Release(nil) // a renewal's connection
	dials := len(db.DialAttempts())

	for name, learn := range map[string]func(context.Context, tokens.Identity) error{
		"Discriminator": func(ctx context.Context, id tokens.Identity) error { _, err := id.Discriminator(ctx); return err },
		"ResolveKey":    func(ctx context.Context, id tokens.Identity) error { _, _, err := id.ResolveKey(ctx); return err },
	} {
		t.Run(name, func(t *testing.T) {
			holder, err := tokens.TokenFuncIdentity(func(context.Context) (tokens.Token, error) { return first, nil })
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			lerr := learn(ctx, holder)
			assert.False(t, holder.KeyResolved(), "an expired token taught its key (%v)", lerr)
			require.Error(t, lerr)
			assert.NotContains(t, lerr.Error(), first.Value)
			l, err := m.Acquire(ctx, holder)
			if err == nil {
				got := l.Raw().(*memdb.Conn).TokenFingerprint()
				l.Release(nil)
				t.Fatalf("an expired token was served a connection (logged in with %s)", got)
			}
			var te *actors.TokenExpiryError
			require.True(t, errors.As(err, &te), "%v", err)
			assert.NotContains(t, err.Error(), first.Value)
			assert.Len(t, db.DialAttempts(), dials, "no dial for an expired token")
		})
	}
	acquire(t, m, victim).Release(nil)
}
