// Package idpoolhttp puts the calling user's identity into each HTTP
// request's context, so that a handler's queries through idpool's *sql.DB
// facade run as that user (on-behalf-of, tokens.OnBehalfOf).
package idpoolhttp

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/idpool/idpool/internal/panicdesc"
	"github.com/idpool/idpool/internal/typednil"
	"github.com/idpool/idpool/onbehalf"
	"github.com/idpool/idpool/tokens"
)

// Validate checks the caller's bearer token (signature, issuer, audience,
// expiry: whatever the API requires) and names the principal it belongs to,
// from its verified tid and oid claims. An error refuses the request with
// 401; the error is not shown to the caller.
type Validate func(r *http.Request, bearer string) (tokens.Principal, error)

// Identities builds the identity of a validated caller;
// onbehalf.Cache (recommended: no credential per request) and
// *tokens.OnBehalfOf both are one.
type Identities interface {
	Identity(user tokens.Principal, assertion string) (tokens.Identity, error)
}

// Middleware takes the caller's bearer token from the Authorization header,
// asks validate whether to accept it and who it is, and calls next with the
// caller's on-behalf-of identity in the request's ctx (tokens.WithIdentity),
// where the facade finds it. A request without a bearer token, or whose
// token validate refuses, gets 401 with a WWW-Authenticate challenge and
// next is not called: no identity is built and nothing touches the database.
// If the identity cannot be built (validate named an empty principal) the
// answer is 500. A request with more than one Authorization header gets 400
// (RFC 6750's invalid_request) and validate is not asked: which one counts
// would depend on who reads it (a proxy, validate reading r itself), so that
// the token validate vouched for might not be the one exchanged. A panic in
// validate or ids goes on as a panic that names its value's type but not
// the value, which may quote the token (net/http logs a handler's panic
// value); a runtime error keeps its message, http.ErrAbortHandler is kept.
//
// Middleware panics if ids, validate or next is nil, as http.Handle does for
// a nil handler: a nil validate would otherwise be found only by the first
// request (and read by no one as "accept every token"). A nil pointer in ids
// or next counts as nil: it is what a constructor that failed returns
// (app, _ := tokens.NewOnBehalfOfSecret(...)), and every request would
// otherwise get 500. So does the zero onbehalf.Cache, which a failed
// onbehalf.NewCache returns (users, _ := onbehalf.NewCache(app, n)), and
// the zero tokens.OnBehalfOf (new(tokens.OnBehalfOf)), which names no app.
func Middleware(ids Identities, validate Validate, next http.Handler) http.Handler {
	switch {
	case ids == nil || typednil.Is(ids):
		panic("idpoolhttp: Middleware with nil Identities")
	case zeroIdentities(ids):
		panic(fmt.Sprintf("idpoolhttp: Middleware with the zero %T (kept from a constructor that failed?)", ids))
	case validate == nil:
		panic("idpoolhttp: Middleware with a nil Validate: every bearer token must be verified before its identity is used")
	case next == nil || typednil.Is(next):
		panic("idpoolhttp: Middleware with a nil next handler")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.Header.Values("Authorization")) > 1 {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_request"`)
			http.Error(w, "more than one Authorization header", http.StatusBadRequest)
			return
		}
		bearer, ok := bearerToken(r)
		if !ok {
			unauthorized(w, `Bearer`)
			return
		}
		user, err := validateGuarded(validate, r, bearer)
		if err != nil {
			unauthorized(w, `Bearer error="invalid_token"`)
			return
		}
		id, err := identityGuarded(ids, user, bearer)
		if err != nil {
			http.Error(w, "the caller's database identity could not be built", http.StatusInternalServerError)
			return
		}
		next.ServeHTTP(w, r.WithContext(tokens.WithIdentity(r.Context(), id)))
	})
}

// validateGuarded calls validate, which is handed the caller's token, so
// that a panic in it goes on without its value (see repanicRedacted).
func validateGuarded(validate Validate, r *http.Request, bearer string) (tokens.Principal, error) {
	defer repanicRedacted("Validate")
	return validate(r, bearer)
}

// identityGuarded calls ids.Identity, which is handed the caller's token,
// so that a panic in it goes on without its value (see repanicRedacted).
func identityGuarded(ids Identities, user tokens.Principal, bearer string) (tokens.Identity, error) {
	defer repanicRedacted("Identities.Identity")
	return ids.Identity(user, bearer)
}

// repanicRedacted, deferred around user code that was handed the caller's
// token, turns a panic into one that says only what kind of value it was
// (internal/panicdesc): net/http's server prints a handler's panic value
// in its error log, and the value of a panic in code parsing a token may
// hold the token (a message quoting it, an error wrapping it). It still
// panics, so that the server logs it and drops the connection as before;
// http.ErrAbortHandler, the sentinel for aborting quietly, goes on as is.
func repanicRedacted(what string) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	panic("idpoolhttp: " + what + " panicked: " + panicdesc.Describe(v))
}

// zeroIdentities reports whether ids is a zero value of this repository's
// Identities: one that refuses every request, which is what a constructor
// that failed hands back (NewCache returns the zero Cache with its error).
func zeroIdentities(ids Identities) bool {
	switch v := ids.(type) {
	case onbehalf.Cache:
		return v == onbehalf.Cache{}
	case *onbehalf.Cache:
		return *v == onbehalf.Cache{}
	case *tokens.OnBehalfOf:
		// Its fields are unexported; reflect reads zero-ness without them.
		return reflect.ValueOf(v).Elem().IsZero()
	}
	return false
}

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header (the scheme is case-insensitive, RFC 6750).
func bearerToken(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return tok, true
}

func unauthorized(w http.ResponseWriter, challenge string) {
	w.Header().Set("WWW-Authenticate", challenge)
	http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
}
