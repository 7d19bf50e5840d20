package tokens

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/idpool/idpool/internal/redacttest"
)

// TestSecretRedactorTakesOutEveryFormOfASecret: each form an error's text
// may carry a known secret in (as it is, escaped by %q, %+q and JSON,
// percent-encoded in either case of hex, in hex, in base64 of both
// alphabets, padded or not, and at the start of a longer base64 value) is
// replaced, and the text around it kept.
func TestSecretRedactorTakesOutEveryFormOfASecret(t *testing.T) {
	sec := `S~c&r<t>"%:é\/+=` // every class of character an encoder treats apart
	js, _ := json.Marshal(sec)
	b64 := func(enc *base64.Encoding, s string) string { return enc.EncodeToString([]byte(s)) }
	forms := map[string]string{
		"raw":                   sec,
		"%q":                    strconv.Quote(sec),
		"%+q":                   strconv.QuoteToASCII(sec),
		"json":                  string(js),
		"query":                 url.QueryEscape(sec),
		"query, lower-case hex": regexp.MustCompile(`%[0-9A-F]{2}`).ReplaceAllStringFunc(url.QueryEscape(sec), strings.ToLower),
		"upper-case hex":        strings.ToUpper(hex.EncodeToString([]byte(sec))),
		"path":                  url.PathEscape(sec),
		"user info":             url.UserPassword("u", sec).String(),
		"hex":                   hex.EncodeToString([]byte(sec)),
		"base64":                b64(base64.StdEncoding, sec),
		"base64url":             b64(base64.URLEncoding, sec),
		"raw base64":            b64(base64.RawStdEncoding, sec),
		"raw base64url":         b64(base64.RawURLEncoding, sec),
		"base64 of more":        b64(base64.StdEncoding, sec+"&more"),
		"base64url of more":     b64(base64.URLEncoding, sec+"&more"),
	}
	redact := secretRedactor(func(yield func(string) bool) { _ = yield("unrelated") && yield(sec) })
	for name, f := range forms {
		got := redact("before " + f + " after")
		redacttest.AssertRedacted(t, []string{sec}, got)
		if !strings.HasPrefix(got, "before ") || !strings.HasSuffix(got, " after") || !strings.Contains(got, redactedMark) {
			t.Errorf("%s: %q became %q", name, f, got)
		}
	}
}

// TestSecretRedactorTakesLongSecrets: a token function's token or an
// assertion may be of any size; a regexp of a 1 MiB secret's forms failed
// to compile (a panic, in a mint's error path), a Replacer takes it.
func TestSecretRedactorTakesLongSecrets(t *testing.T) {
	sec := strings.Repeat("Ab&%", 1<<18)
	got := secretRedactor(func(yield func(string) bool) { yield(sec) })("x " + url.QueryEscape(sec) + " y")
	if got != "x "+redactedMark+" y" {
		t.Errorf("a 1 MiB secret, query-escaped: got %.60q...", got)
	}
}

// TestSecretRedactorLeavesTextAlone: no secrets, or only secrets under
// minRedactedSecretRunes characters (which a message holds by chance), leave
// the text as it was; a secret of exactly the minimum is looked for.
func TestSecretRedactorLeavesTextAlone(t *testing.T) {
	const text = "dial tcp 127.0.0.1:1: connect: connection refused"
	for name, secrets := range map[string]knownSecrets{
		"nil":        nil,
		"none":       func(func(string) bool) {},
		"short ones": func(yield func(string) bool) { _ = yield("") && yield("c") && yield("tcp") && yield("éé") },
	} {
		if got := secretRedactor(secrets)(text); got != text {
			t.Errorf("%s: %q became %q", name, text, got)
		}
	}
	if got := secretRedactor(func(yield func(string) bool) { yield("dial") })(text); got != "[redacted] tcp 127.0.0.1:1: connect: connection refused" {
		t.Errorf("a four-character secret: got %q", got)
	}
}
