package tokens

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// knownSecrets yields the exact secrets a source was built with or was
// handed for one mint: a client secret, an on-behalf-of user assertion, the
// assertions a caller's function returned. It is a func, not a slice field,
// so that the secrets stay where they already lived (the variables the
// closure captured, the credential's own) and a source printed by fmt shows
// an address, never them; idpool keeps no registry of secrets.
type knownSecrets func(yield func(string) bool)

// minRedactedSecretRunes is the shortest secret secretRedactor looks for.
// A secret of one to three characters turns up by chance in almost any
// text ("a", "ok", "401"): replacing every occurrence would turn the error
// into a row of markers and hide why the mint failed, and so short a
// secret is guessed in a moment whether printed or not. Four characters
// keep an operator's message readable and still cover every secret worth
// the name (Entra's are 40).
const minRedactedSecretRunes = 4

// redactedMark replaces each form of a known secret.
const redactedMark = "[redacted]"

// percentHex is a percent-encoded byte.
var percentHex = regexp.MustCompile(`%[0-9A-F]{2}`)

// secretRedactor returns a function that replaces, in a text, each known
// secret of at least minRedactedSecretRunes characters in every form an
// error's text may carry it (see secretForms). It is built when a
// credential fails, never before: no encoded copy of a secret outlives the
// error's construction. It is a strings.Replacer, not a regexp: a caller's
// token or assertion may be of any length, and a regexp of its forms could
// be too large to compile; a Replacer's trie is linear in them.
//
// A secret that is a common word ("error", "token", "connection") is
// redacted too, wherever the word occurs, though the word was the
// credential's own: the text cannot tell the secret from the word, and an
// ugly message is better than a printed secret.
func secretRedactor(secrets knownSecrets) func(string) string {
	var forms []string
	if secrets != nil {
		for s := range secrets {
			if utf8.RuneCountInString(s) >= minRedactedSecretRunes {
				forms = append(forms, secretForms(s)...)
			}
		}
	}
	if len(forms) == 0 {
		return func(text string) string { return text }
	}
	// The longest first: at one position the Replacer takes the first
	// form that matches, and a form that is the start of another (the
	// secret itself, the start of its JSON escape) would leave the longer
	// form's tail printed.
	slices.SortFunc(forms, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b) // equal forms side by side, for Compact
	})
	forms = slices.Compact(forms)
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, redactedMark)
	}
	return strings.NewReplacer(pairs...).Replace
}

// secretForms returns sec and the forms text holds it in: the body of a
// Go-quoted string (%q, and ASCII-only for %+q), of a JSON string (HTML
// escaped as encoding/json writes it, and not), its percent-encodings (a
// query or form value, a URL's path, a URL's user info; with upper- and
// lower-case hex digits, as encoders differ), its hex in either case and
// its standard and URL base64, padded and not, whole, and cut at the last
// whole 3-byte group so that a longer encoded value that begins with sec
// matches too. Forms are matched as they are, case and all: base64 is
// case-sensitive, and an echo that changed a secret's case is no echo
// any formatter writes. Forms shorter than minRedactedSecretRunes are
// dropped.
func secretForms(sec string) []string {
	jsonBody := func(escapeHTML bool) string {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(escapeHTML)
		_ = enc.Encode(sec)
		q := strings.TrimSpace(b.String())
		return q[1 : len(q)-1]
	}
	unquote := func(q string) string { return q[1 : len(q)-1] }
	raw := []byte(sec)
	whole := raw[:len(raw)/3*3]
	percent := []string{
		url.QueryEscape(sec),
		url.PathEscape(sec),
		strings.TrimPrefix(url.UserPassword("", sec).String(), ":"),
	}
	for _, p := range percent[:3] {
		percent = append(percent, percentHex.ReplaceAllStringFunc(p, strings.ToLower))
	}
	forms := append(percent,
		sec,
		unquote(strconv.Quote(sec)),
		unquote(strconv.QuoteToASCII(sec)),
		jsonBody(true),
		jsonBody(false),
		hex.EncodeToString(raw),
		strings.ToUpper(hex.EncodeToString(raw)),
		base64.StdEncoding.EncodeToString(raw),
		base64.URLEncoding.EncodeToString(raw),
		base64.RawStdEncoding.EncodeToString(raw),
		base64.RawURLEncoding.EncodeToString(raw),
		base64.RawStdEncoding.EncodeToString(whole),
		base64.RawURLEncoding.EncodeToString(whole),
	)
	return slices.DeleteFunc(forms, func(f string) bool { return utf8.RuneCountInString(f) < minRedactedSecretRunes })
}
