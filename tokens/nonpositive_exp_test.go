package tokens_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

// memdbManager is a Manager over an in-memory database whose dials the
// test can count.
func memdbManager(t *testing.T, server string) (*manager.Manager, *memdb.DB) {
	t.Helper()
	db := memdb.New()
	m, err := manager.New(manager.Config{Server: server, Dialer: db, MaxSize: 2})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close(testCtx(t))) })
	return m, db
}

// TestAJWTWhoseExpIsNotPositiveHasExpired: an exp claim of 0 or less is a
// NumericDate at or before the Unix epoch, a token that expired in 1970
// (RFC 7519 4.1.4: it must not be accepted). It was read as no known
// expiry, so StaticTokenIdentity took the later expiry its caller named
// and the pool dialed with the token (the server then refused it, and
// that refusal was all the caller saw). Now it expires at the epoch,
// whatever expiry the caller names: Acquire refuses it before any pool or
// dial with the TokenExpiryError it gives any expired handed-in token, and
// a TokenFuncIdentity's mint of it teaches no key.
func TestAJWTWhoseExpIsNotPositiveHasExpired(t *testing.T) {
	epoch := time.Unix(0, 0)
	for _, exp := range []any{0, -1, -1e300} {
		tok := forge(t, jwt.MapClaims{"tid": "t1", "oid": "o1", "exp": exp})
		for name, named := range map[string]time.Time{"a later expiry named": time.Now().Add(time.Hour), "none named": {}} {
			m, db := memdbManager(t, "memdb:1/nonpositive-exp")
			static, err := tokens.StaticTokenIdentity(tok, named)
			require.NoError(t, err)
			got, handedIn := static.HandedInExpiry()
			assert.True(t, handedIn)
			assert.True(t, got.Equal(epoch), "exp %v, %s: expires %s, want the epoch", exp, name, got)

			l, err := m.Acquire(testCtx(t), static)
			if err == nil {
				l.Release(nil)
				t.Fatalf("exp %v, %s: a token that expired in 1970 was served a connection", exp, name)
			}
			var te *actors.TokenExpiryError
			require.True(t, errors.As(err, &te), "exp %v, %s: %v", exp, name, err)
			assert.True(t, te.ExpiresOn.Equal(epoch), "exp %v, %s: the error names %s", exp, name, te.ExpiresOn)
			assert.NotContains(t, err.Error(), tok)
			assert.Empty(t, db.DialAttempts(), "exp %v, %s: a dial with an expired token", exp, name)

			fn, err := tokens.TokenFuncIdentity(func(context.Context) (tokens.Token, error) {
				return tokens.Token{Value: tok, ExpiresOn: named}, nil
			})
			require.NoError(t, err)
			_, err = m.Acquire(testCtx(t), fn)
			require.True(t, errors.As(err, &te), "exp %v, %s: a token function's expired token: %v", exp, name, err)
			assert.False(t, fn.KeyResolved(), "exp %v, %s: an expired token taught a key", exp, name)
			assert.Empty(t, db.DialAttempts())
		}
	}
}

// TestAJWTWithoutANumericExpGoesByTheExpiryNamed: a careless caller's
// token whose exp is missing, or a string, carries no NumericDate: its
// claims say nothing about its expiry, so it is handled as an opaque
// token. The expiry its caller names governs (the acquire is served, and
// the dial's token carries that expiry), and with none named it is refused
// as of unknown expiry (fail closed), as before.
func TestAJWTWithoutANumericExpGoesByTheExpiryNamed(t *testing.T) {
	for name, claims := range map[string]jwt.MapClaims{
		"exp missing":     {"tid": "t1", "oid": "o1"},
		"exp a string":    {"tid": "t1", "oid": "o1", "exp": "1700000000"},
		"exp a string 0":  {"tid": "t1", "oid": "o1", "exp": "0"},
		"exp past 1e12 s": {"tid": "t1", "oid": "o1", "exp": 1e13},
	} {
		tok := forge(t, claims)
		m, db := memdbManager(t, "memdb:1/careless-exp")

		named := time.Now().Add(time.Hour).Truncate(time.Second)
		static, err := tokens.StaticTokenIdentity(tok, named)
		require.NoError(t, err)
		l, err := m.Acquire(testCtx(t), static)
		require.NoError(t, err, name)
		l.Release(nil)
		dials := db.DialAttempts()
		require.Len(t, dials, 1, name)
		assert.True(t, dials[0].TokenExpiresOn.Equal(named), "%s: dialed with expiry %s, want the one named", name, dials[0].TokenExpiresOn)

		unknown, err := tokens.StaticTokenIdentity(tok, time.Time{})
		require.NoError(t, err)
		_, err = m.Acquire(testCtx(t), unknown)
		var te *actors.TokenExpiryError
		require.True(t, errors.As(err, &te), "%s, no expiry named: %v", name, err)
		assert.True(t, te.ExpiresOn.IsZero(), "%s: refused as of unknown expiry, not %s", name, te.ExpiresOn)
		assert.Len(t, db.DialAttempts(), 1, name)
	}
}
