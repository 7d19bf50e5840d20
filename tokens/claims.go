package tokens

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// unverifiedClaims decodes the payload of a JWS in compact form (three
// dot-separated segments) without looking at its header or signature, and
// reports false for anything else (an opaque token). It reads the claims
// whatever the header's "alg" says: a parser that refuses an unknown or
// missing alg would let a token with one through a claims check as if it
// were opaque.
func unverifiedClaims(tok string) (map[string]any, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, false
	}
	var claims map[string]any
	if json.Unmarshal(payload, &claims) != nil || claims == nil {
		return nil, false
	}
	return claims, true
}

// namesAnother reports whether claims hold a claim name (tid, oid) that is
// not want: a value of another type than string counts as another.
func namesAnother(claims map[string]any, name, want string) bool {
	v, present := claims[name]
	if !present {
		return false
	}
	s, ok := v.(string)
	return !ok || (s != "" && foldID(s) != foldID(want)) // as keys compare ids
}
