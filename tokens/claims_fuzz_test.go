package tokens

import (
	"encoding/base64"
	"strings"
	"testing"
)

// FuzzUnverifiedClaims: the claims checked against a vouched-for principal
// come from a token minted over the network, whatever its bytes. Reading them
// never panics, and only a three-part token whose middle part is a JSON
// object has claims; anything else is opaque.
func FuzzUnverifiedClaims(f *testing.F) {
	enc := base64.RawURLEncoding.EncodeToString
	header := enc([]byte(`{"alg":"RS256","typ":"JWT"}`))
	for _, claims := range []string{`{"tid":"t","oid":"o"}`, `{"tid":7}`, `null`, `[]`, `{`, ``, `{"a":{"b":[1,2,{"c":null}]}}`} {
		f.Add(header + "." + enc([]byte(claims)) + ".sig")
	}
	for _, seed := range []string{"", ".", "..", "a.b.c", "opaque-token", header + ".e30=.x", header + ".!!.x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		claims, ok := unverifiedClaims(tok)
		if !ok {
			if claims != nil {
				t.Fatalf("claims %v for an opaque token", claims)
			}
			return
		}
		if claims == nil || strings.Count(tok, ".") != 2 {
			t.Fatalf("%q read as a JWT with claims %v", tok, claims)
		}
		_ = namesAnother(claims, "tid", "t")
		_ = namesAnother(claims, "oid", "o")
	})
}
