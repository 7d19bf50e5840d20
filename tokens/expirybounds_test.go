package tokens_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// TestValidBeyondIsStrict: a token that expires exactly margin after now is
// not valid beyond margin ("for longer than margin"): a pool that renews
// tokens within a threshold of their expiry must renew one that sits right
// on it.
func TestValidBeyondIsStrict(t *testing.T) {
	now := time.Now()
	const margin = 5 * time.Minute
	assert.False(t, tokens.Token{Value: "t", ExpiresOn: now.Add(margin)}.ValidBeyond(now, margin))
	assert.True(t, tokens.Token{Value: "t", ExpiresOn: now.Add(margin + time.Nanosecond)}.ValidBeyond(now, margin))
	assert.False(t, tokens.Token{Value: "t"}.ValidBeyond(now, -time.Hour), "an unknown expiry is valid beyond nothing")
}

// tokenCred is a credential that returns one access token.
type tokenCred struct{ tok azcore.AccessToken }

func (c tokenCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return c.tok, nil
}

// TestCredentialSourceExpiryIsTheClaimWhenSooner: CredentialSource alone
// (whatever identity wraps it) reports a JWT's exp claim as its expiry when
// the credential's ExpiresOn is later (computed from a huge expires_in, say):
// the server goes by the token.
func TestCredentialSourceExpiryIsTheClaimWhenSooner(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	exp := time.Now().Add(10 * time.Minute).Truncate(time.Second)
	jwt := enc(`{"alg":"RS256"}`) + "." + enc(fmt.Sprintf(`{"exp":%d}`, exp.Unix())) + ".sig"
	tok, err := tokens.CredentialSource(tokenCred{azcore.AccessToken{Token: jwt, ExpiresOn: exp.Add(100 * 365 * 24 * time.Hour)}}).Token(context.Background())
	require.NoError(t, err)
	assert.True(t, tok.ExpiresOn.Equal(exp), "ExpiresOn %v, want the exp claim's %v", tok.ExpiresOn, exp)

	sooner := exp.Add(-5 * time.Minute)
	tok, err = tokens.CredentialSource(tokenCred{azcore.AccessToken{Token: jwt, ExpiresOn: sooner}}).Token(context.Background())
	require.NoError(t, err)
	assert.True(t, tok.ExpiresOn.Equal(sooner), "a sooner ExpiresOn of the credential's is kept")
}

// TestNoKeyIsLearnedFromARecentlyExpiredToken: a token-keyed identity
// learns no key from a token that has expired, however recently (a minute
// ago here): the key is that of the pool of whichever identity's first
// token it was, and no grace applies.
func TestNoKeyIsLearnedFromARecentlyExpiredToken(t *testing.T) {
	id, err := tokens.TokenFuncIdentity(func(context.Context) (tokens.Token, error) {
		return tokens.Token{Value: "opaque-token", ExpiresOn: time.Now().Add(-time.Minute)}, nil
	})
	require.NoError(t, err)
	_, err = id.Discriminator(context.Background())
	assert.Error(t, err)
	assert.False(t, id.KeyResolved())
}
