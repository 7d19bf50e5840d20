package idpoolhttp

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzBearerToken: the Authorization header is whatever the caller sent.
// Reading it never panics, and a token is read only from "Bearer" (any case),
// one space, then at least one non-blank byte, returned without surrounding
// blanks.
func FuzzBearerToken(f *testing.F) {
	for _, h := range []string{"Bearer abc.def.ghi", "bearer x", "BEARER  x ", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "", " Bearer x", "Bearer\tx", "Bearerx y"} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r := &http.Request{Header: http.Header{"Authorization": {h}}}
		tok, ok := bearerToken(r)
		if !ok {
			if tok != "" {
				t.Fatalf("%q: token %q without ok", h, tok)
			}
			return
		}
		scheme, rest, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || tok == "" || tok != strings.TrimSpace(tok) || tok != strings.TrimSpace(rest) {
			t.Fatalf("%q read as bearer token %q", h, tok)
		}
	})
}
