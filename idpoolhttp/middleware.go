// Package idpoolhttp puts the calling user's identity into each HTTP
// request's context, so that a handler's queries through idpool's *sql.DB
// facade run as that user (on-behalf-of, tokens.OnBehalfOf).
package idpoolhttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/idpool/idpool/internal/panicdesc"
	"github.com/idpool/idpool/internal/safelog"
	"github.com/idpool/idpool/internal/typednil"
	"github.com/idpool/idpool/onbehalf"
	"github.com/idpool/idpool/tokens"
)

// Validate checks the caller's bearer token (signature, issuer, audience,
// expiry: whatever the API requires) and names the principal it belongs to,
// from its verified tid and oid claims. An error refuses the request with
// 401; the error is not shown to the caller. An error that wraps
// ErrUnavailable says the token could not be checked now (the identity
// provider's signing keys could not be fetched, say) and gets 503 instead:
// see Middleware.
type Validate func(r *http.Request, bearer string) (tokens.Principal, error)

// ErrUnavailable is what Validate wraps when it could not decide at all,
// rather than refuse the token: the identity provider's signing keys
// (JWKS) could not be fetched, the fetch timed out, a key service is down.
// Wrap it with the cause, for example
//
//	return tokens.Principal{}, fmt.Errorf("fetch signing keys: %w: %w", idpoolhttp.ErrUnavailable, err)
//
// and Middleware answers 503 with Retry-After instead of 401, so that
// clients do not take an outage for a bad token (and sign in again, all at
// once) and the API's monitoring sees an outage, not failed logins.
var ErrUnavailable = errors.New("idpoolhttp: the bearer token cannot be validated now")

// retryAfter is the Retry-After, in seconds, of a 503: a blip (a key
// endpoint restarting, a dropped connection) is usually over by then, and
// clients that honour it do not retry in a tight loop against an outage.
const retryAfter = "5"

// An Option configures Middleware.
type Option func(*options)

type options struct {
	logger *slog.Logger
}

// WithLogger makes Middleware log each request it cannot serve for a reason
// of the server's, not the caller's: one record at Error when the caller's
// identity cannot be built (500), one at Warn when validate could not
// decide (503). A nil l logs nothing, as without the option. Refused tokens
// (401, 400) are not logged: they are the callers' errors, and frequent.
// The records never hold the bearer token; see Middleware.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

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
//
// When validate's error wraps ErrUnavailable (the token could not be
// checked now), the answer is 503 with "Retry-After: 5" and no challenge:
// the token was not found bad, so clients should retry it, not sign in
// again. Five seconds, because a blip (a key endpoint restarting, a
// dropped connection) is usually over by then, and clients that honour it
// do not retry in a tight loop against an outage. The answer is 503 too
// when validate's error is or wraps context.Canceled or
// context.DeadlineExceeded and the request's own ctx has ended: a deadline
// the server set on the request ran out while validating, which is the
// server's failure, not the token's; or the client went away (net/http
// cancels the ctx of a request whose connection closed), and then no one
// reads the answer, which is written only so that access logs and metrics
// around the middleware count it neither as served nor as a refused token.
// In every 503 case next is not called and no identity is built.
//
// If the identity cannot be built (validate named an empty principal), or
// ids returned one that is not the caller's (an invalid identity; the SQL
// login, which would run the caller as the DSN's user; one vouched for
// another principal than validate named), the answer is 500. So it is when validate or ids panicked with nil in a
// program that recovers that as nil (GODEBUG=panicnil=1), which would
// otherwise read as a call that returned its zero values: next is not
// called.
//
// With WithLogger, each 500 is logged at Error and each 503 at Warn (but
// not the 503 of a client that went away: nothing failed on the server),
// one record per request, with the request's ctx, the error of Identities
// or validate as "err", and for a 500 the principal validate named
// ("tenant_id", "object_id"). Nothing else of the request is logged. The
// bearer token never is: in the error text and the principal's ids every
// occurrence of the token is replaced by [REDACTED], also as %q and %+q
// quote it, URL-escaped, and each of its dot-separated parts of 16 bytes
// or more (a JWT's header, claims and signature, so that records quoting
// different parts cannot be joined into the token); a text that quotes a
// token shorter than 8 bytes is withheld whole. An Error method that
// panics logs the error's type and not the panic's value. Every call to
// the logger's handler is under recover: a handler that panics loses the
// record, not the request, and the answer is the same.
//
// A request with more than one Authorization header gets 400
// (RFC 6750's invalid_request) and validate is not asked: which one counts
// would depend on who reads it (a proxy, validate reading r itself), so that
// the token validate vouched for might not be the one exchanged. A panic in
// validate or ids (or in the Is or Unwrap methods of validate's error,
// which Middleware calls to tell ErrUnavailable from a refusal) goes on as
// a panic that names its value's type but not the value, which may quote
// the token (net/http logs a handler's panic value); a runtime error keeps
// its message, http.ErrAbortHandler is kept.
//
// Every request through Middleware needs a bearer token, whatever its
// method or path: a CORS preflight (an OPTIONS request, which browsers send
// without the Authorization header) and a load balancer's health probe get
// 401 too. Mount CORS handling and health endpoints in front of Middleware,
// or beside it on a mux, not behind it.
//
// Middleware panics if ids, validate or next is nil, as http.Handle does for
// a nil handler: a nil validate would otherwise be found only by the first
// request (and read by no one as "accept every token"). A nil pointer in ids
// or next counts as nil: it is what a constructor that failed returns
// (app, _ := tokens.NewOnBehalfOfSecret(...)), and every request would
// otherwise get 500. So does the zero onbehalf.Cache, which a failed
// onbehalf.NewCache returns (users, _ := onbehalf.NewCache(app, n)), and
// the zero tokens.OnBehalfOf (new(tokens.OnBehalfOf)), which names no app.
func Middleware(ids Identities, validate Validate, next http.Handler, opts ...Option) http.Handler {
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
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	logger := safelog.Wrap(o.logger)
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
		user, verdict, err := validateGuarded(validate, r, bearer)
		switch verdict {
		case refused:
			unauthorized(w, `Bearer error="invalid_token"`)
			return
		case unavailable:
			logFailure(r.Context(), logger, slog.LevelWarn,
				"idpoolhttp: the bearer token could not be validated now; answered 503", err, bearer)
			serviceUnavailable(w)
			return
		case clientGone:
			serviceUnavailable(w)
			return
		case unfinished:
			logFailure(r.Context(), logger, slog.LevelError,
				"idpoolhttp: Validate did not return; answered 500", errDidNotReturn, bearer)
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return
		}
		id, err := identityGuarded(ids, user, bearer)
		if err == nil {
			err = callersIdentity(id, user)
		}
		if err != nil {
			logFailure(r.Context(), logger, slog.LevelError,
				"idpoolhttp: the caller's database identity could not be built; answered 500", err, bearer,
				slog.String("tenant_id", scrub(user.TenantID, bearer)), slog.String("object_id", scrub(user.ObjectID, bearer)))
			http.Error(w, "the caller's database identity could not be built", http.StatusInternalServerError)
			return
		}
		next.ServeHTTP(w, r.WithContext(tokens.WithIdentity(r.Context(), id)))
	})
}

// verdict is what validate's answer makes of a request.
type verdict int

const (
	// unfinished, the zero verdict, is that of a validate that did not
	// return: a panic(nil) that the guard's recover stops as nil
	// (GODEBUG=panicnil=1) leaves validateGuarded's results as they were
	// when it began, which must not read as accepted.
	unfinished verdict = iota // 500, logged
	accepted
	refused     // 401
	unavailable // 503, logged
	clientGone  // 503, not logged
)

// validateGuarded calls validate, which is handed the caller's token, and
// sorts its error, so that a panic in either (errors.Is calls the error's
// own Is and Unwrap methods) goes on without its value (see
// repanicRedacted).
func validateGuarded(validate Validate, r *http.Request, bearer string) (user tokens.Principal, v verdict, err error) {
	defer repanicRedacted("Validate")
	user, err = validate(r, bearer)
	if err == nil {
		return user, accepted, nil
	}
	if ended := r.Context().Err(); ended != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		if errors.Is(ended, context.Canceled) {
			return user, clientGone, err
		}
		return user, unavailable, err
	}
	if errors.Is(err, ErrUnavailable) {
		return user, unavailable, err
	}
	return user, refused, err
}

// identityGuarded calls ids.Identity, which is handed the caller's token,
// so that a panic in it goes on without its value (see repanicRedacted).
// Its error is errDidNotReturn until ids.Identity returns: a panic(nil)
// stopped as nil (GODEBUG=panicnil=1) must not pass for the zero Identity
// built without error.
func identityGuarded(ids Identities, user tokens.Principal, bearer string) (id tokens.Identity, err error) {
	err = errDidNotReturn
	defer repanicRedacted("Identities.Identity")
	return ids.Identity(user, bearer)
}

// callersIdentity refuses an identity that Identities returned without an
// error but that is not the caller's (user's): an invalid one (the zero
// Identity, what a constructor that failed returns), which only the
// database calls would have refused, with the handler run as if
// authenticated; the SQL login, which would run every caller as the DSN's
// user; and one vouched for another principal (a cache keyed by the wrong
// user), which would run the caller in that principal's pool, on sessions
// logged in as them.
func callersIdentity(id tokens.Identity, user tokens.Principal) error {
	if err := id.Validate(); err != nil {
		return fmt.Errorf("idpoolhttp: Identities returned an invalid identity: %w", err)
	}
	if id.Kind() == tokens.KindSQLLogin {
		return errors.New("idpoolhttp: Identities returned the SQL login, which would run the caller as the DSN's user")
	}
	if vouched, ok := id.VouchedPrincipal(); ok && !vouched.Same(user) {
		return errors.New("idpoolhttp: Identities returned an identity vouched for another principal than the caller")
	}
	return nil
}

// errDidNotReturn is the error of a call to validate or Identities that
// neither returned nor went on panicking (see unfinished).
var errDidNotReturn = errors.New("idpoolhttp: the call did not return: it panicked with nil, which GODEBUG=panicnil=1 recovers as nil")

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
//
// A token that had blanks around it is a copy: onbehalf.Cache and the
// credential it builds keep the token as long as they keep the user, and a
// substring would keep the whole header with it, padding and all (net/http
// trims the blanks around a value, not those after "Bearer"), so a caller
// could make each user it signs in as cost the server up to net/http's
// header limit (1 MB) for good.
func bearerToken(r *http.Request) (string, bool) {
	scheme, rest, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	tok := strings.TrimSpace(rest)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	if len(tok) != len(rest) {
		tok = strings.Clone(tok)
	}
	return tok, true
}

func serviceUnavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", retryAfter)
	http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
}

// logFailure logs err at level, with bearer scrubbed from its text, if
// logger (safelog-wrapped, or nil) is on at that level. Nothing of err is
// read otherwise: its Error method is user code.
func logFailure(ctx context.Context, logger *slog.Logger, level slog.Level, msg string, err error, bearer string, attrs ...slog.Attr) {
	if logger == nil || !logger.Enabled(ctx, level) {
		return
	}
	attrs = append([]slog.Attr{slog.String("err", scrub(errorText(err), bearer))}, attrs...)
	logger.LogAttrs(ctx, level, msg, attrs...)
}

// errorText returns err.Error(), or, if that panics, only what kind of
// value the panic was: an Error method handed the token may panic with it,
// and a log line is not worth the request.
func errorText(err error) (text string) {
	defer func() {
		if v := recover(); v != nil {
			text = fmt.Sprintf("(a %T whose Error method panicked: %s)", err, panicdesc.Describe(v))
		}
	}()
	return err.Error()
}

// minScrubLen is the shortest token replaced within a text; a text that
// quotes a shorter one is withheld whole, since replacing so few bytes
// everywhere they occur would leave the rest readable only by chance.
const minScrubLen = 8

// minScrubPart is the shortest dot-separated part of a token replaced on
// its own: shorter parts would match ordinary words.
const minScrubPart = 16

// withheld replaces a text that quotes a token too short to scrub.
const withheld = "(withheld: it quotes the bearer token)"

// scrub returns s with the bearer token replaced by [REDACTED]: the token
// as is, quoted as %q and %+q quote it, URL-escaped, and each of its
// dot-separated parts (a JWT's header, claims and signature) at least
// minScrubPart long, so that records quoting different parts cannot be
// joined into the token. A text that still holds the token after that
// (one short token, or one the replacing put back together) is withheld.
func scrub(s, bearer string) string {
	if bearer == "" {
		return s
	}
	forms := []string{
		bearer,
		unquoted(strconv.Quote(bearer)),
		unquoted(strconv.QuoteToASCII(bearer)),
		url.QueryEscape(bearer),
		url.PathEscape(bearer),
	}
	if len(bearer) < minScrubLen {
		for _, f := range forms {
			if strings.Contains(s, f) {
				return withheld
			}
		}
		return s
	}
	for part := range strings.SplitSeq(bearer, ".") {
		if len(part) >= minScrubPart {
			forms = append(forms, part)
		}
	}
	// Longest first: a part is inside the whole token.
	slices.SortFunc(forms, func(a, b string) int { return len(b) - len(a) })
	for _, f := range forms {
		s = strings.ReplaceAll(s, f, "[REDACTED]")
	}
	if strings.Contains(s, bearer) {
		return withheld
	}
	return s
}

func unquoted(q string) string { return q[1 : len(q)-1] }

func unauthorized(w http.ResponseWriter, challenge string) {
	w.Header().Set("WWW-Authenticate", challenge)
	http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
}
