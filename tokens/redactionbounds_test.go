package tokens_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// TestFortyCharacterSecretsAreRedactedFromCredentialErrors: Entra's client
// secrets are 40 characters of letters, digits and "~._-" (which the
// standard base64 pattern does not cover): one quoted on a credential
// error's first line is redacted, at exactly that length.
func TestFortyCharacterSecretsAreRedactedFromCredentialErrors(t *testing.T) {
	secret := "Ab3~Q8Q~xY.z_1-kLmN0pQrStUvWxYz012345678" // 40
	require.Len(t, secret, 40)
	_, err := tokens.CredentialSource(failingCred{errors.New("ClientSecretCredential: secret " + secret + " was refused")}).Token(context.Background())
	require.Error(t, err)
	assert.NotContains(t, err.Error(), secret)
	assert.Contains(t, err.Error(), "[redacted]")
}

// TestCredentialErrorTextIsBounded: a credential error whose first line is
// very long (an endpoint's body printed on it, in words no pattern takes
// for a secret) is cut to a bound, and says the rest was withheld.
func TestCredentialErrorTextIsBounded(t *testing.T) {
	long := "ManagedIdentityCredential: the endpoint said " + strings.Repeat("word ", 2000)
	_, err := tokens.CredentialSource(failingCred{errors.New(long)}).Token(context.Background())
	require.Error(t, err)
	assert.Less(t, len(err.Error()), 2048, "the error text is not bounded")
	assert.Contains(t, err.Error(), "withheld")
}

// TestQuotedValuesAreRedactedFromCredentialErrors: what a credential
// error's first line quotes is a value it was given (MSAL quotes a
// response's expires_in there), however short, and a quote the text
// leaves open is redacted to its end; a quoted endpoint URL stays (see
// TestStandardBase64SecretsAreRedactedFromCredentialErrors).
func TestQuotedValuesAreRedactedFromCredentialErrors(t *testing.T) {
	const secret = "hunter2-pw" // 10: no token-like run
	for _, text := range []string{
		`OnBehalfOfCredential: json decode error: unix time("` + secret + `") could not be converted from string to int`,
		`ClientSecretCredential: the endpoint said "` + secret,
		`ClientSecretCredential: the endpoint said "` + secret + `\`,
	} {
		_, err := tokens.CredentialSource(failingCred{errors.New(text)}).Token(context.Background())
		require.Error(t, err)
		assert.NotContains(t, err.Error(), secret, text)
		assert.Contains(t, err.Error(), `"[redacted]"`, text)
	}
}
