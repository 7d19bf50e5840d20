package tokens

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// FuzzTokenEndpointRefusal: a token endpoint's refusal is bytes from the
// network, read twice: into the error's text (redactCredentialError) and
// into the claims challenge relayed to the API's client
// (claimsChallengeOf). Whatever the body, and wherever in it the endpoint
// echoed the credential's secret in any of the forms an encoder writes,
// neither the text nor the relayed claims hold the secret in one of those
// forms, the claims relayed are a JSON object of at most 8 KiB whose
// decoded strings hold neither the secret nor anything token-like, and
// nothing panics.
//
// The secret is drawn from the characters Entra's client secrets and
// tokens are made of: a secret with '[' or ' ' in it could be spelt by the
// error's own punctuation and redaction marks, which are not an echo.
func FuzzTokenEndpointRefusal(f *testing.F) {
	const secret = "Qx8~Q~abcdefghijklmnopqrstuvwxyz0123456."
	refusal := func(claims string) []byte {
		b, _ := json.Marshal(map[string]any{
			"error": "interaction_required", "error_description": "AADSTS50076: MFA required",
			"error_codes": []int{50076}, "claims": claims,
			"trace_id": "0b1e5a1c-43f4-4c0e-9b7e-5f3c4c6a2d00",
		})
		return b
	}
	f.Add(refusal(`{"access_token":{"capolids":{"essential":true,"values":["c1"]}}}`), secret, uint8(0), uint16(60), 400)
	f.Add(refusal(`{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`), secret, uint8(1), uint16(90), 400)
	// Every character escaped inside a claim's value (the echo the
	// claims check once let through, see relayableClaims).
	inner := refusal(`{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`)
	f.Add(inner, secret, uint8(7), uint16(bytes.Index(inner, []byte("c1"))), 400)
	f.Add(refusal(`{"a":"`), "short1", uint8(2), uint16(3), 400)
	f.Add([]byte(`{"error":"invalid_grant","claims":"{\"x\":\"\"}"}`), secret, uint8(3), uint16(52), 400)
	f.Add([]byte("not json\nAttempted credentials:\n\tOnBehalfOfCredential: "), "sec-ret_42", uint8(4), uint16(64), 401)
	f.Add([]byte(`{"error":""}`), "lowercase_secret", uint8(0), uint16(10), 400)
	f.Add([]byte{}, "abcd", uint8(5), uint16(0), 500)
	f.Fuzz(func(t *testing.T, body []byte, sec string, form uint8, at uint16, status int) {
		if len(sec) < minRedactedSecretRunes || len(sec) > 200 || !secretAlphabet(sec) ||
			strings.Contains(redactedMark, sec) || status < 100 || status > 599 {
			t.Skip()
		}
		echo := secretForm(sec, form)
		pos := int(at) % (len(body) + 1)
		body = append(body[:pos:pos], append([]byte(echo), body[pos:]...)...)
		req, _ := http.NewRequest(http.MethodPost, "https://login.microsoftonline.com/tenant/oauth2/v2.0/token", nil)
		resp := &http.Response{StatusCode: status, Status: strconv.Itoa(status) + " " + http.StatusText(status),
			Body: io.NopCloser(bytes.NewReader(body)), Request: req, Header: http.Header{}}
		cause := &azidentity.AuthenticationFailedError{RawResponse: resp}
		err := redactCredentialError("mint", cause, func(yield func(string) bool) { yield(sec) }, true)

		forms := leakForms(sec)
		text := err.Error()
		for _, form := range forms {
			if strings.Contains(text, form) {
				t.Fatalf("the error's text holds the secret (as %q): %q", form, text)
			}
		}
		c, ok := FindClaimsChallenge(err)
		if !ok {
			return
		}
		if len(c.Claims) > maxClaims || !json.Valid([]byte(c.Claims)) || !strings.HasPrefix(strings.TrimSpace(c.Claims), "{") {
			t.Fatalf("claims relayed that are not a bounded JSON object: %q", c.Claims)
		}
		for _, form := range forms {
			if strings.Contains(c.Claims, form) {
				t.Fatalf("the relayed claims hold the secret (as %q): %q", form, c.Claims)
			}
		}
		dec := json.NewDecoder(strings.NewReader(c.Claims))
		for {
			tok, derr := dec.Token()
			if errors.Is(derr, io.EOF) {
				break
			}
			if derr != nil {
				t.Fatalf("relayed claims the client cannot decode: %v", derr)
			}
			if s, isString := tok.(string); isString && (strings.Contains(s, sec) || tokenLike.MatchString(s)) {
				t.Fatalf("a relayed claim decodes to the secret or a token: %q", s)
			}
		}
		if c.AuthorizeURL != "https://login.microsoftonline.com/tenant/oauth2/v2.0/authorize" {
			t.Fatalf("authorize endpoint %q, want the one beside the token endpoint", c.AuthorizeURL)
		}
	})
}

// secretAlphabet reports whether s is made of the characters of Entra's
// client secrets, tokens and base64: letters, digits and "~._-+/=".
func secretAlphabet(s string) bool {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("~._-+/=", r):
		default:
			return false
		}
	}
	return true
}

// secretForm is sec as an endpoint may echo it, chosen by form: as it is,
// the body of a JSON or Go-quoted string, percent-encoded as a form or
// query value, in standard or URL base64, or with every character
// JSON-escaped (as an encoder that escapes all but ASCII letters would
// write it, and as a client decodes it back), and that last inside a
// JSON string in the body (a claim's value within the claims string).
func secretForm(sec string, form uint8) string {
	switch form % 8 {
	case 1:
		b, _ := json.Marshal(sec)
		return string(b[1 : len(b)-1])
	case 2:
		q := strconv.Quote(sec)
		return q[1 : len(q)-1]
	case 3:
		return url.QueryEscape(sec)
	case 4:
		return base64.StdEncoding.EncodeToString([]byte(sec))
	case 5:
		return base64.RawURLEncoding.EncodeToString([]byte(sec))
	case 6:
		var b strings.Builder
		for _, r := range sec {
			b.WriteString(`\u00` + strconv.FormatInt(int64(r)>>4, 16) + strconv.FormatInt(int64(r)&15, 16))
		}
		return b.String()
	case 7:
		b, _ := json.Marshal(secretForm(sec, 6))
		return string(b[1 : len(b)-1])
	}
	return sec
}

// leakForms are the forms of sec that must not appear in what is printed
// or relayed: those secretForm writes, but for the fully JSON-escaped one,
// which a reader of an error's text does not decode and which the claims
// check catches once decoded.
func leakForms(sec string) []string {
	forms := make([]string, 0, 6)
	for form := range uint8(6) {
		forms = append(forms, secretForm(sec, form))
	}
	return forms
}
