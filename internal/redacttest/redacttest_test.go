package redacttest_test

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/idpool/idpool/internal/redacttest"
)

// recorder is a testing.TB that keeps what AssertRedacted reports instead
// of failing the test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// dsnOf is a PostgreSQL DSN in URL form with password pw, escaped as
// net/url escapes a password.
func dsnOf(pw string) string {
	return (&url.URL{Scheme: "postgres", User: url.UserPassword("app", pw), Host: "db.example:5432", Path: "/appdb"}).String()
}

// TestAssertRedactedFindsAShortSecretInEveryForm: a secret of 8 to 39
// characters (a password, a client secret of an authority other than
// Entra) printed escaped or encoded, as a formatter writes it, was not
// found: AssertRedacted looked for the secret as it is and its hex only.
// A password with '@', '/' or ':' in a DSN's URL form is percent-encoded
// (p%40ss), one quoted with %q or written as JSON has its '"' and '\'
// escaped, and a []byte is printed as decimal bytes by %v or as base64 by
// encoding/json. Each is found now.
func TestAssertRedactedFindsAShortSecretInEveryForm(t *testing.T) {
	const pw = `p@s"s\w/d:1<&>` // 14
	leaky := map[string]any{
		"DSN in URL form":             dsnOf(pw),
		"DSN in a struct field":       struct{ DSN string }{dsnOf(pw)},
		"error quoting it (%q)":       fmt.Errorf("login failed for password %q", pw),
		"JSON body in an error":       errors.New(string(must(json.Marshal(map[string]string{"client_secret": pw})))),
		"[]byte printed with %v":      fmt.Errorf("key %v refused", []byte(pw)),
		"[]byte printed with %#v":     fmt.Errorf("key %#v refused", []byte(pw)),
		"[]byte as JSON (base64)":     errors.New(string(must(json.Marshal(struct{ Key []byte }{[]byte(pw + "tail")})))),
		"query parameter":             "https://login.example/token?client_secret=" + url.QueryEscape(pw),
		"quoted to ASCII (%+q)":       fmt.Errorf("secret %+q", pw+"é"),
		"escaped as JSON, no HTML":    fmt.Errorf(`{"p":"%s"}`, strings.NewReplacer(`"`, `\"`, `\`, `\\`).Replace(pw)),
		"hex, upper case (%X)":        fmt.Errorf("secret %X", pw),
		"as it is, another case":      strings.ToUpper(pw),
		"a pointer to a struct of it": &struct{ DSN string }{dsnOf(pw)},
	}
	for name, v := range leaky {
		r := &recorder{TB: t}
		redacttest.AssertRedacted(r, []string{pw}, v)
		if len(r.errs) == 0 {
			t.Errorf("%s: the secret was not found in %v", name, v)
		}
	}
}

// TestAssertRedactedRaisesNoFalseAlarm: ordinary text, and the forms a
// redacted value prints (a redaction mark, a hash's prefix, the secret's
// length, a DSN with the password masked), holds none of a secret's forms.
func TestAssertRedactedRaisesNoFalseAlarm(t *testing.T) {
	secrets := []string{`p@s"s\w/d:1<&>`, "hunter22", "password!X", "12345678"}
	sum := sha256.Sum256([]byte(secrets[0]))
	clean := []any{
		"login failed: password authentication failed for user app",
		fmt.Sprintf("token(%x, expires 2026-12-01T20:00:00Z)", sum[:6]),
		(&url.URL{Scheme: "postgres", User: url.UserPassword("app", "xxxxx"), Host: "db.example:5432", Path: "/appdb"}).Redacted(),
		errors.New("the response body is withheld: it may echo a token or a secret [redacted]"),
		struct {
			Len  int
			Hint string
		}{14, "hunter2"},
		[]int{1, 2, 3, 4, 5, 6, 7},
	}
	r := &recorder{TB: t}
	redacttest.AssertRedacted(r, secrets, clean...)
	for _, e := range r.errs {
		t.Errorf("false alarm: %s", e)
	}
}

// TestAssertRedactedRefusesAShortSecret: a secret under MinSecretLen
// (or an empty one, which every text contains) cannot be looked for
// without false alarms, and says so instead of passing.
func TestAssertRedactedRefusesAShortSecret(t *testing.T) {
	for _, sec := range []string{"", "pw", "1234567"} {
		r := &recorder{TB: t}
		redacttest.AssertRedacted(r, []string{sec}, "nothing here")
		if len(r.errs) != 1 || !strings.Contains(r.errs[0], "MinSecretLen") {
			t.Errorf("a secret of %d bytes: %d reports, want one naming MinSecretLen", len(sec), len(r.errs))
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestRenderingsOfAnUntypedNil: Renderings(nil) panicked (reflect.New of
// the nil type), and so did AssertRedacted of a nil error, which a test
// that checks "whatever the call returned" passes when the call succeeded.
// An untyped nil now renders as fmt, slog and encoding/json print it, and
// holds no secret.
func TestRenderingsOfAnUntypedNil(t *testing.T) {
	var r map[string]string
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("Renderings(nil) panicked: %v", p)
			}
		}()
		r = redacttest.Renderings(nil)
	}()
	if got := r["value %v"]; got != "<nil>" {
		t.Errorf(`Renderings(nil)["value %%v"] = %q, want "<nil>"`, got)
	}
	if got := r["value json"]; got != "null" {
		t.Errorf(`Renderings(nil)["value json"] = %q, want "null"`, got)
	}
	if got := r["struct{value} %+v"]; got != "{Field:<nil>}" {
		t.Errorf(`Renderings(nil)["struct{value} %%+v"] = %q, want "{Field:<nil>}"`, got)
	}
	rec := &recorder{TB: t}
	var err error
	redacttest.AssertRedacted(rec, []string{"s3cr\"t%@/:"}, err)
	if len(rec.errs) != 0 {
		t.Errorf("a nil error leaks nothing, yet AssertRedacted reported %q", rec.errs)
	}
}
