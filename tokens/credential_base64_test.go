package tokens_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"unicode"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// failingCred is a credential whose every GetToken fails with err.
type failingCred struct{ err error }

func (c failingCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, c.err
}

// TestStandardBase64SecretsAreRedactedFromCredentialErrors: the first line
// of a credential's error is kept with token-like runs redacted, but the run
// stopped at '/' and '%', so a standard base64 secret (a legacy 44-character
// Entra client secret, a storage key, an access token a proxy answered IMDS
// with), plain or URL-encoded, whose pieces between slashes are shorter than
// 40 characters, was printed whole: azidentity's system-assigned managed
// identity error puts the endpoint's body on that line. The URLs and GUIDs
// that say what failed stay readable.
func TestStandardBase64SecretsAreRedactedFromCredentialErrors(t *testing.T) {
	legacy := "k3J9Xq/2mZ+8vT1wYp4LsR/aN7eUc0Hf+Gd6iKo5bW/=" // 44, as legacy secrets were
	long := "k3J9Xq/2mZ+8vT1wYp4LsR/aN7eUc0Hf+Gd6iKo5bW/3xQz1VyMn8tPr+E2sJh4Ug=="
	for name, c := range map[string]struct{ text, secret string }{
		"IMDS body": {"ManagedIdentityCredential: failed to authenticate a system assigned identity. The endpoint responded with {\"access_token\":\"" + long + "\"}", long},
		"quoted":    {"ClientSecretCredential: secret \"" + legacy + "\" was refused", legacy},
		"bare":      {"ClientSecretCredential: secret " + legacy + " was refused", legacy},
		"url-encoded": {"ClientSecretCredential: request body client_secret=" + url.QueryEscape(legacy) + "&grant_type=client_credentials",
			url.QueryEscape(legacy)},
		"JSON-escaped": {`ManagedIdentityCredential: failed to authenticate a system assigned identity. The endpoint responded with {"access_token":"` +
			jsonEscaped(long) + `"}`, jsonEscaped(long)},
		"url-encoded lower case": {"ClientSecretCredential: client_secret=" + strings.ToLower(url.QueryEscape(long)), strings.ToLower(url.QueryEscape(long))},
	} {
		_, err := tokens.CredentialSource(failingCred{errors.New(c.text)}).Token(context.Background())
		require.Error(t, err, name)
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			out := fmt.Sprintf(verb, err)
			assert.NotContains(t, out, c.secret, "%s %s", name, verb)
			// No piece of it either: the letters and digits between two
			// other characters are each a good part of the secret.
			for _, piece := range strings.FieldsFunc(c.secret, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
				if len(piece) >= 8 {
					assert.NotContains(t, out, piece, "%s %s", name, verb)
				}
			}
		}
	}
	keep := `Post "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token": dial tcp 10.0.0.1:443: connect: connection refused`
	_, err := tokens.CredentialSource(failingCred{errors.New("ClientSecretCredential: " + keep)}, tokens.WithScope("https://ossrdbms-aad.database.windows.net/.default")).Token(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), keep, "what failed stays readable")
	assert.Contains(t, err.Error(), "https://ossrdbms-aad.database.windows.net/.default")
}

// jsonEscaped is s as System.Text.Json and PHP write it in a JSON string:
// '/' as "\/", '+' and '=' as \u escapes.
func jsonEscaped(s string) string {
	return strings.NewReplacer("/", `\/`, "+", `\u002B`, "=", `\u003D`).Replace(s)
}
