package tokens

import (
	"context"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSignedInSourceRefusesASwitchedAccount: the CLI identity is keyed by
// its first token's hash (one mint, then free), later tokens of the same
// principal pass, a token of another principal (az login as someone else) is
// refused.
func TestSignedInSourceRefusesASwitchedAccount(t *testing.T) {
	who := "alice"
	mint := func(oid string) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"tid": "t", "oid": oid, "n": time.Now().UnixNano()}).SignedString([]byte("k"))
		require.NoError(t, err)
		return s
	}
	calls := 0
	id := developerIdentity("Azure CLI", cliCredential(func() string {
		calls++
		return mint(who)
	}), nil)
	assert.False(t, id.KeyResolved())
	d, err := id.Discriminator(context.Background())
	require.NoError(t, err)
	assert.Contains(t, d, "acct:tok:")
	_, err = id.Discriminator(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, calls, "the key costs one mint, once")
	_, err = id.Source().Token(context.Background())
	require.NoError(t, err, "a new token of the same principal")
	who = "mallory"
	_, err = id.Source().Token(context.Background())
	require.ErrorContains(t, err, "another principal")
}

// TestSignedInSourceTellsLookAlikesApart: the switched-account check
// compares ids as pool keys do, ASCII case only. It lowered them with
// strings.ToLower, which maps the Kelvin sign U+212A to 'k', so a switch
// from "kate" to "\u212aate" passed as the same principal.
func TestSignedInSourceTellsLookAlikesApart(t *testing.T) {
	who := "kate"
	src := developerIdentity("Azure CLI", cliCredential(func() string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"tid": "t", "oid": who}).SignedString([]byte("k"))
		require.NoError(t, err)
		return s
	}), nil).Source()
	_, err := src.Token(context.Background())
	require.NoError(t, err)
	who = "KATE"
	_, err = src.Token(context.Background())
	require.NoError(t, err, "ASCII case is one principal")
	who = "\u212aate"
	_, err = src.Token(context.Background())
	require.ErrorContains(t, err, "another principal")
}

// cliCredential stands in for the CLI credential: each GetToken runs mint.
type cliCredential func() string

func (c cliCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: c(), ExpiresOn: time.Now().Add(time.Hour)}, nil
}
