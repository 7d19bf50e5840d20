// Package redacttest checks that values holding a secret never print it: with
// every fmt verb, by value and by pointer, nested in structs, through slog's
// text and JSON handlers and through encoding/json. It is a test helper for
// the packages whose types hold tokens or passwords.
package redacttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

// Verbs are the fmt verbs every secret-holding type must print redacted with.
var Verbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"}

// Renderings returns every printed form of v that a program could produce
// by accident: each verb applied to v, to a pointer to v, and to v inside a
// struct (as an exported field, by value and by pointer), slog records of v
// through the text and JSON handlers, and encoding/json of v.
func Renderings(v any) map[string]string {
	out := map[string]string{}
	ptr := reflect.New(reflect.TypeOf(v))
	ptr.Elem().Set(reflect.ValueOf(v))
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

// AssertRedacted fails t for every rendering of each value that contains
// one of the secrets (compared case-insensitively, and hex-encoded as %x
// would print them).
func AssertRedacted(t testing.TB, secrets []string, values ...any) {
	t.Helper()
	for i, v := range values {
		for how, s := range Renderings(v) {
			low := strings.ToLower(s)
			for _, sec := range secrets {
				for _, form := range []string{sec, fmt.Sprintf("%x", sec)} {
					if strings.Contains(low, strings.ToLower(form)) {
						t.Errorf("value %d (%T) printed as %s leaks a secret: %s", i, v, how, s)
					}
				}
			}
		}
	}
}
