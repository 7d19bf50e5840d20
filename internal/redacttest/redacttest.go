// Package redacttest checks that values holding a secret never print it: with
// every fmt verb, by value and by pointer, nested in structs, through slog's
// text and JSON handlers and through encoding/json. It is a test helper for
// the packages whose types hold tokens or passwords.
package redacttest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// Verbs are the fmt verbs every secret-holding type must print redacted with.
var Verbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"}

// Renderings returns every printed form of v that a program could produce
// by accident: each verb applied to v, to a pointer to v, and to v inside a
// struct (as an exported field, by value and by pointer), slog records of v
// through the text and JSON handlers, and encoding/json of v. An untyped
// nil (a nil error or interface a test passes by mistake, or on purpose)
// has no type to point to: its pointer form is a *any holding nil, as &v
// would be.
func Renderings(v any) map[string]string {
	out := map[string]string{}
	var ptr reflect.Value
	if v == nil {
		// reflect.New(reflect.TypeOf(nil)) panicked: TypeOf(nil) is nil.
		ptr = reflect.ValueOf(new(any))
	} else {
		ptr = reflect.New(reflect.TypeOf(v))
		ptr.Elem().Set(reflect.ValueOf(v))
	}
	forms := map[string]any{
		"value":             v,
		"pointer":           ptr.Interface(),
		"struct{value}":     struct{ Field any }{v},
		"struct{pointer}":   struct{ Field any }{ptr.Interface()},
		"slice":             []any{v, ptr.Interface()},
		"map":               map[string]any{"k": v},
		"pointer-to-struct": &struct{ Field any }{v},
	}
	for name, f := range forms {
		for _, verb := range Verbs {
			out[name+" "+verb] = fmt.Sprintf(verb, f)
		}
		out[name+" Sprint"] = fmt.Sprint(f)
		out[name+" Sprintln"] = fmt.Sprintln(f)
		var buf bytes.Buffer
		for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
			slog.New(h).Info("msg", "attr", f, slog.Group("g", "attr", f), slog.Any("any", f))
		}
		out[name+" slog"] = buf.String()
		js, err := json.Marshal(f)
		if err != nil {
			js = []byte(err.Error())
		}
		out[name+" json"] = string(js)
	}
	return out
}

// MinSecretLen is the shortest secret AssertRedacted looks for: a shorter
// one (or one of its encodings) turns up in ordinary text by chance, and a
// check that cries wolf gets switched off. Use random sentinels at least
// this long.
const MinSecretLen = 8

// AssertRedacted fails t for every rendering of each value (see Renderings)
// that contains one of the secrets in any form a formatter writes it in:
// as it is, hex-encoded (%x, %X), escaped in a quoted string (%q, %#v,
// slog's text handler) or in JSON, percent-encoded (the password of a DSN
// in URL form, a query parameter), and as bytes (%v and %#v of a []byte,
// the base64 that encoding/json writes for one). Each form is compared
// case-insensitively. A sentinel of plain letters and digits reads the same
// escaped as not, so it cannot show that a value leaks it escaped: give
// sentinels some of \ " % @ / : < & too. A secret shorter than
// MinSecretLen fails t instead of being looked for.
func AssertRedacted(t testing.TB, secrets []string, values ...any) {
	t.Helper()
	var all [][]string
	for i, sec := range secrets {
		if len(sec) < MinSecretLen {
			t.Errorf("secret %d is %d bytes, under redacttest.MinSecretLen (%d): too short to look for without false alarms", i, len(sec), MinSecretLen)
			continue
		}
		all = append(all, Forms(sec))
	}
	for i, v := range values {
		for how, s := range Renderings(v) {
			low := strings.ToLower(s)
			for _, forms := range all {
				for _, form := range forms {
					if strings.Contains(low, form) {
						t.Errorf("value %d (%T) printed as %s leaks a secret: %s", i, v, how, s)
					}
				}
			}
		}
	}
}

// Forms returns the forms, lower-cased, that sec takes in text a program
// prints: sec itself; its hex (%x); its body in a Go-quoted string (%q and
// %#v; strconv.QuoteToASCII for %+q) and a JSON string (HTML-escaped as
// encoding/json writes it, and not, as slog's JSON handler does); its
// percent-encodings (a DSN's password, a URL's path and query); the
// decimal (%v) and Go-syntax (%#v) lists of its bytes; and the standard
// and URL base64 of its bytes (encoding/json's form of a []byte), cut at
// the last whole 3-byte group so that a longer byte string that begins
// with sec matches too.
func Forms(sec string) []string {
	jsonBody := func(escapeHTML bool) string {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(escapeHTML)
		_ = enc.Encode(sec)
		return strings.TrimSuffix(strings.TrimSpace(b.String()), `"`)[1:]
	}
	unquote := func(q string) string { return q[1 : len(q)-1] }
	raw := []byte(sec)
	whole := raw[:len(raw)/3*3]
	forms := []string{
		sec,
		fmt.Sprintf("%x", sec),
		unquote(strconv.Quote(sec)),
		unquote(strconv.QuoteToASCII(sec)),
		jsonBody(true),
		jsonBody(false),
		strings.TrimPrefix(url.UserPassword("", sec).String(), ":"),
		url.QueryEscape(sec),
		url.PathEscape(sec),
		strings.Trim(fmt.Sprint(raw), "[]"),
		strings.TrimSuffix(strings.TrimPrefix(fmt.Sprintf("%#v", raw), "[]byte{"), "}"),
		base64.RawStdEncoding.EncodeToString(whole),
		base64.RawURLEncoding.EncodeToString(whole),
	}
	seen := map[string]bool{}
	out := forms[:0]
	for _, f := range forms {
		f = strings.ToLower(f)
		if f != "" && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}
