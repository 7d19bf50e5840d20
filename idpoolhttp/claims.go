package idpoolhttp

import (
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/idpool/idpool/tokens"
)

// AnswerClaimsChallenge answers the request with Entra's claims challenge
// if err carries one (tokens.FindClaimsChallenge), and reports whether it
// did; for any other error it writes nothing and reports false.
//
// A handler behind Middleware calls it with the error of its database work
// before answering that error otherwise: when conditional access refuses
// the on-behalf-of exchange of the caller's token (the database wants
// multi-factor authentication, a compliant device, an authentication
// context), only the caller's client can satisfy it, by signing the user in
// again and asking for the claims. The answer is what RFC 6750 and Entra's
// claims-challenge format ask, and what MSAL's helpers parse: 401 with
//
//	WWW-Authenticate: Bearer realm="", authorization_uri="<authorize endpoint>", error="insufficient_claims", claims="<base64 of the claims>"
//
// and a short body. The claims are only those FindClaimsChallenge found fit
// to relay (a JSON object holding no secret of the credential's and nothing
// token-like); the authorize endpoint is the one beside the token endpoint
// that refused, or empty.
//
//	if err := db.QueryRowContext(r.Context(), q).Scan(&v); err != nil {
//		if idpoolhttp.AnswerClaimsChallenge(w, err) {
//			return
//		}
//		http.Error(w, "query failed", http.StatusBadGateway)
//		return
//	}
func AnswerClaimsChallenge(w http.ResponseWriter, err error) bool {
	ch, ok := tokens.FindClaimsChallenge(err)
	if !ok {
		return false
	}
	authorize := ch.AuthorizeURL
	if !quotable(authorize) {
		authorize = ""
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="`+authorize+
		`", error="insufficient_claims", claims="`+base64.StdEncoding.EncodeToString([]byte(ch.Claims))+`"`)
	http.Error(w, "the database asks the user to sign in again: see WWW-Authenticate", http.StatusUnauthorized)
	return true
}

// quotable: s can stand in an auth-param's quoted-string as it is (no
// quote, backslash or control character to escape).
func quotable(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r == '"' || r == '\\' || r < 0x20 || r == 0x7f })
}
