package tokens_test

import (
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/idpool/idpool/tokens"
)

// jsonEscapeEvery writes s as the body of a JSON string with every n-th
// character written as a \u escape, as an endpoint's encoder that escapes
// more than Go's does ('~', '/', '+', '.', any character) writes it: the
// client that decodes the claims reads s back whole.
func jsonEscapeEvery(s string, n int) string {
	var b strings.Builder
	for i, r := range s {
		if i%n == n-1 {
			fmt.Fprintf(&b, `\u%04x`, r)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// The claims are relayed to the API's client, which decodes them as JSON:
// a secret or a token the refusal's claims echo with JSON escapes in it
// (the run cut where a pattern looks for it, in no form the redactor knows)
// is the secret or the token once decoded, and yields no challenge.
func TestClaimsEchoingASecretInJSONEscapesYieldNoChallenge(t *testing.T) {
	assertion := "ASSERTION-" + rand.Text() + rand.Text()
	secret := "Q8r~" + rand.Text()[:20] + "~Zk.9" + rand.Text()[:11] // 40, an Entra secret's form
	for name, body := range map[string]func(assertion, secret string) string{
		"secret, '~' escaped": func(_, s string) string {
			return entraRefusal(`{"access_token":{"hint":{"value":"` + strings.ReplaceAll(s, "~", `\u007e`) + `"}}}`)
		},
		"assertion, escaped every 16": func(a, _ string) string {
			return entraRefusal(`{"access_token":{"hint":{"value":"` + jsonEscapeEvery(a, 16) + `"}}}`)
		},
		"secret as a key": func(_, s string) string {
			return entraRefusal(`{"access_token":{"` + jsonEscapeEvery(s, 10) + `":{"essential":true}}}`)
		},
		"a token-like run, escaped every 30": func(string, string) string {
			return entraRefusal(`{"access_token":{"x":{"value":"` + jsonEscapeEvery(rand.Text()+rand.Text()+rand.Text(), 30) + `"}}}`)
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := oboAcquire(t, refusingWith(body), assertion, secret, false)[0]
			ch, ok := tokens.FindClaimsChallenge(err)
			assert.False(t, ok, "relayed %+v", ch)
		})
	}
	// Escapes alone are no reason to refuse: Entra's own claims, escaped.
	escaped := strings.ReplaceAll(capClaims, "-", `\u002d`)
	err := oboAcquire(t, refusingWith(func(string, string) string { return entraRefusal(escaped) }), assertion, secret, false)[0]
	ch, ok := tokens.FindClaimsChallenge(err)
	assert.True(t, ok)
	assert.Equal(t, escaped, ch.Claims, "relayed as Entra sent them")
}
