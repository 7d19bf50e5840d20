package manager_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

// TestTokenHashKeyNeedsTheToken: a pool keyed by the hash of a whole token
// ("tok:<sha256 hex>") is reached only by the holder of that token. The hash
// is no secret (Stats shows every pool's discriminator in full), so
// tokens.New must not build an identity of that key from the hash alone: it
// used to, and the identity it built was served the victim's idle
// connection, logged in with the victim's token, and its own source became
// the pool's newest credential.
func TestTokenHashKeyNeedsTheToken(t *testing.T) {
	m, _ := startManager(t)
	ctx := testCtx(t)
	real := tokens.Token{Value: "the-victims-token", ExpiresOn: time.Now().Add(time.Hour)}
	victim, err := tokens.StaticTokenIdentity(real.Value, real.ExpiresOn)
	require.NoError(t, err)
	victimConn, fp := useAndRelease(t, m, victim)
	require.Equal(t, real.Fingerprint(), fp)

	st := m.Stats()
	require.Len(t, st.PerPool, 1)
	disc := st.PerPool[0].Discriminator
	require.Equal(t, "tok:"+sha(real.Value), disc, "the hash is public: Stats shows it")

	attacker := tokens.New(tokens.KindProvidedToken, disc, fixed(tokens.Token{Value: "attacker", ExpiresOn: time.Now().Add(time.Hour)}))
	require.ErrorIs(t, attacker.Validate(), tokens.ErrInvalidIdentity)
	assert.ErrorContains(t, attacker.Validate(), "StaticTokenIdentity")
	l, err := m.Acquire(ctx, attacker)
	if l != nil {
		defer l.Release(nil)
		assert.NotEqual(t, victimConn, l.Raw().(*memdb.Conn).ID(), "the attacker was served the victim's connection")
	}
	require.ErrorIs(t, err, tokens.ErrInvalidIdentity)
}

// TestNewRefusesKeysItCannotBackUp: New names a principal whose every token
// the caller vouches for; it cannot build the keys whose meaning is tied to
// a check it does not make: a whole-token hash (the holder of that token)
// in any kind's hash form, and "oid:" (VouchedTokenIdentity, which refuses
// a token naming another principal).
func TestNewRefusesKeysItCannotBackUp(t *testing.T) {
	src := fixed(tokens.Token{Value: "v", ExpiresOn: time.Now().Add(time.Hour)})
	hex := sha("some token")
	for kind, disc := range map[tokens.Kind]string{
		tokens.KindProvidedToken:     "tok:" + hex,
		tokens.KindDefaultCredential: "dac:" + hex,
		tokens.KindManagedIdentity:   "msi:tok:" + hex,
		tokens.KindServicePrincipal:  "sp:tok:" + hex,
		tokens.KindUserAccount:       "acct:tok:" + hex,
	} {
		id := tokens.New(kind, disc, src)
		require.ErrorIs(t, id.Validate(), tokens.ErrInvalidIdentity, disc)
		assert.ErrorContains(t, id.Validate(), "hash-of-a-whole-token form", disc)
	}
	id := tokens.New(tokens.KindProvidedToken, "oid:tenant/object", src)
	require.ErrorIs(t, id.Validate(), tokens.ErrInvalidIdentity)
	assert.ErrorContains(t, id.Validate(), "VouchedTokenIdentity")

	// The keys New is for still work.
	for kind, disc := range map[tokens.Kind]string{
		tokens.KindProvidedToken:    "myapp:alice",
		tokens.KindManagedIdentity:  "msi:system",
		tokens.KindServicePrincipal: "sp:t/c",
		tokens.KindUserAccount:      "acct:someone",
	} {
		require.NoError(t, tokens.New(kind, disc, src).Validate(), disc)
	}
}
