package idpoolhttp_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/idpoolhttp"
	"github.com/idpool/idpool/internal/syncbuf"
	"github.com/idpool/idpool/tokens"
)

// records is a slog.Handler that keeps every record it is handed, with its
// attributes as text, for the test to read.
type records struct {
	mu   sync.Mutex
	recs []record
}

type record struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
	Ctx   context.Context
}

func (h *records) Enabled(context.Context, slog.Level) bool { return true }

func (h *records) Handle(ctx context.Context, r slog.Record) error {
	rec := record{Level: r.Level, Msg: r.Message, Attrs: map[string]string{}, Ctx: ctx}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, rec)
	return nil
}

func (h *records) WithAttrs([]slog.Attr) slog.Handler { panic("not used by these tests") }
func (h *records) WithGroup(string) slog.Handler      { panic("not used by these tests") }

func (h *records) all() []record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]record(nil), h.recs...)
}

// get sends one request with this bearer token to srv and returns the
// response, its body read.
func get(t *testing.T, srv *httptest.Server, bearer string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

// TestAValidatorThatCannotDecideIs503NotA401: validate's signing keys
// could not be fetched, so it wraps ErrUnavailable. The caller gets 503
// with Retry-After and no invalid_token challenge (its token was not found
// bad: it should retry, not sign in again), the handler does not run, no
// identity is built, and the operator gets one Warn record saying why. The
// next request, once the keys are back, is served as usual; a refused
// token is still a 401, and is not logged.
func TestAValidatorThatCannotDecideIs503NotA401(t *testing.T) {
	var calls atomic.Int32
	validate := func(_ *http.Request, bearer string) (tokens.Principal, error) {
		switch {
		case bearer == "forged":
			return tokens.Principal{}, errors.New("bad signature")
		case calls.Add(1) == 1:
			return tokens.Principal{}, fmt.Errorf("fetch signing keys: %w: %w", idpoolhttp.ErrUnavailable,
				errors.New("GET https://login.example/keys: 502 Bad Gateway"))
		}
		return tokens.Principal{TenantID: "t", ObjectID: "alice"}, nil
	}
	ids := &countingIDs{}
	var handled atomic.Int32
	logs := &records{}
	srv := httptest.NewServer(idpoolhttp.Middleware(ids, validate, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handled.Add(1)
		fmt.Fprint(w, "hello")
	}), idpoolhttp.WithLogger(slog.New(logs))))
	defer srv.Close()

	resp, body := get(t, srv, "good-token-0123456789")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "5", resp.Header.Get("Retry-After"))
	assert.Empty(t, resp.Header.Get("WWW-Authenticate"), "no challenge: the token was not refused")
	assert.NotContains(t, body, "502", "the reason is not shown to the caller")
	assert.Zero(t, handled.Load())
	assert.Zero(t, ids.built.Load())
	recs := logs.all()
	require.Len(t, recs, 1)
	assert.Equal(t, slog.LevelWarn, recs[0].Level)
	assert.Contains(t, recs[0].Attrs["err"], "fetch signing keys")
	assert.Contains(t, recs[0].Attrs["err"], "502 Bad Gateway")

	resp, body = get(t, srv, "good-token-0123456789")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "hello", body)
	assert.Empty(t, resp.Header.Get("Retry-After"))

	resp, _ = get(t, srv, "forged")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`)
	assert.Len(t, logs.all(), 1, "a refused token is not logged")
	assert.EqualValues(t, 1, handled.Load())
}

// TestAFailedIdentityIsLoggedAtError: the 500 of an identity that cannot
// be built was answered with no record anywhere. It is now logged once at
// Error, with the request's ctx, the error and the principal validate
// named, here an empty one (the usual application bug).
func TestAFailedIdentityIsLoggedAtError(t *testing.T) {
	app, err := tokens.NewOnBehalfOfSecret("t", "api", "s", nil)
	require.NoError(t, err)
	logs := &records{}
	h := idpoolhttp.Middleware(app, func(*http.Request, string) (tokens.Principal, error) {
		return tokens.Principal{TenantID: "contoso"}, nil
	}, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("handler ran") }),
		idpoolhttp.WithLogger(slog.New(logs)))
	type ctxKey struct{}
	ctx := context.WithValue(t.Context(), ctxKey{}, "request 42")
	rec := call(ctx, h, "Bearer some-token-0123456789")
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	recs := logs.all()
	require.Len(t, recs, 1)
	assert.Equal(t, slog.LevelError, recs[0].Level)
	assert.Contains(t, recs[0].Msg, "500")
	assert.NotEmpty(t, recs[0].Attrs["err"])
	assert.Equal(t, "contoso", recs[0].Attrs["tenant_id"])
	assert.Contains(t, recs[0].Attrs, "object_id")
	assert.Equal(t, "request 42", recs[0].Ctx.Value(ctxKey{}), "logged with the request's ctx")
}

// quotingIDs fails with an error that quotes the token it was handed, in
// every form a careless error message might.
type quotingIDs struct{}

func (quotingIDs) Identity(_ tokens.Principal, assertion string) (tokens.Identity, error) {
	return tokens.Identity{}, quotingError(assertion)
}

func quotingError(tok string) error {
	parts := splitDots(tok)
	return fmt.Errorf("cannot use %s (%q, %+q); header %s, claims %s, signature %s",
		tok, tok, tok, parts[0], parts[1], parts[2])
}

func splitDots(s string) []string {
	var out []string
	start := 0
	for i := range len(s) {
		if s[i] == '.' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// panickyError panics in Error with the token; it wraps wraps.
type panickyError struct {
	tok   string
	wraps error
}

func (e panickyError) Error() string { panic("cannot print " + e.tok) }
func (e panickyError) Unwrap() error { return e.wraps }

// TestAnErrorQuotingTheTokenNeverReachesTheLog: validate and Identities
// are the user's code, handed the raw token, and their errors may quote
// it (whole, %q-quoted, or a JWT's parts one by one), or panic with it in
// Error. Through a text and a JSON handler, the records say what failed
// but hold none of it.
func TestAnErrorQuotingTheTokenNeverReachesTheLog(t *testing.T) {
	token := "eyJhbGciOiJIUzI1NiJ9.eyJTRU5USU5FTC1jbGFpbXMiOjF9SENTINEL." + "SENTINELsig" + rand.Text()
	principal := tokens.Principal{TenantID: "t", ObjectID: "alice"}
	unavailable := func(_ *http.Request, bearer string) (tokens.Principal, error) {
		return tokens.Principal{}, fmt.Errorf("fetch keys for %w: %w", quotingError(bearer), idpoolhttp.ErrUnavailable)
	}
	unavailablePanicky := func(_ *http.Request, bearer string) (tokens.Principal, error) {
		return tokens.Principal{}, panickyError{bearer, idpoolhttp.ErrUnavailable}
	}
	ok := func(*http.Request, string) (tokens.Principal, error) { return principal, nil }
	// The token itself as the principal's ids: validate named what it read.
	echoing := func(_ *http.Request, bearer string) (tokens.Principal, error) {
		return tokens.Principal{TenantID: bearer, ObjectID: "oid " + bearer}, nil
	}
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("the handler ran") })
	for name, c := range map[string]struct {
		ids      idpoolhttp.Identities
		validate idpoolhttp.Validate
		code     int
	}{
		"validate unavailable":       {&countingIDs{}, unavailable, http.StatusServiceUnavailable},
		"validate's error panics":    {&countingIDs{}, unavailablePanicky, http.StatusServiceUnavailable},
		"identities":                 {quotingIDs{}, ok, http.StatusInternalServerError},
		"identities, token as ids":   {quotingIDs{}, echoing, http.StatusInternalServerError},
		"identities' error panics":   {errIDs{func(tok string) error { return panickyError{tok, nil} }}, ok, http.StatusInternalServerError},
		"identities, a short token":  {quotingIDs{}, ok, http.StatusInternalServerError},
		"identities, escaped quotes": {quotingIDs{}, ok, http.StatusInternalServerError},
	} {
		t.Run(name, func(t *testing.T) {
			tok := token
			switch name {
			case "identities, a short token":
				tok = "a.b.c"
			case "identities, escaped quotes":
				tok = "SENTINEL\"\x01é\u2028" + rand.Text() + ".x.y"
			}
			var text, json syncbuf.Buffer
			for _, logger := range []*slog.Logger{
				slog.New(slog.NewTextHandler(&text, nil)),
				slog.New(slog.NewJSONHandler(&json, nil)),
			} {
				h := idpoolhttp.Middleware(c.ids, c.validate, next, idpoolhttp.WithLogger(logger))
				assert.Equal(t, c.code, call(t.Context(), h, "Bearer "+tok).Code)
			}
			for _, out := range []string{text.String(), json.String()} {
				assert.Contains(t, out, "idpoolhttp:")
				assert.NotContains(t, out, "SENTINEL")
				assert.NotContains(t, out, tok)
				if name == "identities, a short token" {
					assert.Contains(t, out, "withheld")
				} else if strings.HasSuffix(name, "error panics") {
					assert.Contains(t, out, "idpoolhttp_test.panickyError whose Error method panicked")
				} else {
					assert.Contains(t, out, "[REDACTED]")
				}
			}
		})
	}
}

type errIDs struct{ err func(tok string) error }

func (e errIDs) Identity(_ tokens.Principal, assertion string) (tokens.Identity, error) {
	return tokens.Identity{}, e.err(assertion)
}

// panickyHandler is a slog.Handler that panics with the record it is
// handed: a broken log pipeline.
type panickyHandler struct{}

func (panickyHandler) Enabled(context.Context, slog.Level) bool { return true }
func (panickyHandler) Handle(_ context.Context, r slog.Record) error {
	panic(fmt.Sprintf("log sink down, dropping %v", r))
}
func (h panickyHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h panickyHandler) WithGroup(string) slog.Handler      { return h }

// TestALoggerThatPanicsOrIsNilChangesNoAnswer: a nil logger logs nothing,
// and a logger whose handler panics loses its record, not the request:
// either way the caller gets the same 503 or 500, and nothing panics.
func TestALoggerThatPanicsOrIsNilChangesNoAnswer(t *testing.T) {
	unavailable := func(*http.Request, string) (tokens.Principal, error) {
		return tokens.Principal{}, fmt.Errorf("fetch signing keys: %w", idpoolhttp.ErrUnavailable)
	}
	ok := func(*http.Request, string) (tokens.Principal, error) {
		return tokens.Principal{TenantID: "t", ObjectID: "alice"}, nil
	}
	failing := errIDs{func(string) error { return errors.New("no credential") }}
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("the handler ran") })
	for name, logger := range map[string]*slog.Logger{"nil": nil, "panicking": slog.New(panickyHandler{})} {
		t.Run(name, func(t *testing.T) {
			require.NotPanics(t, func() {
				rec := call(t.Context(), idpoolhttp.Middleware(&countingIDs{}, unavailable, next, idpoolhttp.WithLogger(logger)), "Bearer tok-0123456789")
				assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
				assert.Equal(t, "5", rec.Header().Get("Retry-After"))
				rec = call(t.Context(), idpoolhttp.Middleware(failing, ok, next, idpoolhttp.WithLogger(logger)), "Bearer tok-0123456789")
				assert.Equal(t, http.StatusInternalServerError, rec.Code)
			})
		})
	}
}

// TestARequestWhoseCtxEndedWhileValidatingIsNotA401: validate fetches
// signing keys with the request's ctx, and the fetch fails because that
// ctx ended. That is no verdict on the token, so not a 401: a client that
// went away gets 503 (which no one reads, and which is not logged: nothing
// failed on the server), and a request whose deadline ran out gets 503 with
// Retry-After and a Warn record. The same error while the request's ctx is
// still live (validate's own timeout, not wrapped in ErrUnavailable) stays
// a 401, as before.
func TestARequestWhoseCtxEndedWhileValidatingIsNotA401(t *testing.T) {
	validate := func(r *http.Request, _ string) (tokens.Principal, error) {
		<-r.Context().Done()
		return tokens.Principal{}, fmt.Errorf("fetch signing keys: %w", r.Context().Err())
	}
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("the handler ran") })

	t.Run("client gone", func(t *testing.T) {
		logs := &records{}
		h := idpoolhttp.Middleware(&countingIDs{}, validate, next, idpoolhttp.WithLogger(slog.New(logs)))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		rec := call(ctx, h, "Bearer tok-0123456789")
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
		assert.Empty(t, rec.Header().Get("WWW-Authenticate"))
		assert.Empty(t, logs.all())
	})
	t.Run("deadline", func(t *testing.T) {
		logs := &records{}
		h := idpoolhttp.Middleware(&countingIDs{}, validate, next, idpoolhttp.WithLogger(slog.New(logs)))
		ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
		defer cancel()
		rec := call(ctx, h, "Bearer tok-0123456789")
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
		assert.Equal(t, "5", rec.Header().Get("Retry-After"))
		assert.Empty(t, rec.Header().Get("WWW-Authenticate"))
		recs := logs.all()
		require.Len(t, recs, 1)
		assert.Equal(t, slog.LevelWarn, recs[0].Level)
		assert.Contains(t, recs[0].Attrs["err"], "deadline exceeded")
	})
	t.Run("live request", func(t *testing.T) {
		own := func(*http.Request, string) (tokens.Principal, error) {
			return tokens.Principal{}, fmt.Errorf("fetch signing keys: %w", context.DeadlineExceeded)
		}
		rec := call(t.Context(), idpoolhttp.Middleware(&countingIDs{}, own, next), "Bearer tok-0123456789")
		assert.Equal(t, http.StatusUnauthorized, rec.Code)
	})
}

// isPanicky is an error whose Is method panics with the token it holds.
type isPanicky struct{ tok string }

func (e isPanicky) Error() string    { return "refused" }
func (e isPanicky) Is(error) bool    { panic("comparing " + e.tok) }
func (e isPanicky) Unwrap() []error  { return nil }
func (e isPanicky) String() string   { return e.tok }
func (e isPanicky) GoString() string { return e.tok }

// TestAPanicSortingValidatesErrorNeverPrintsTheToken: telling an
// unavailable validator from a refusal calls the error's own Is method,
// user code that may panic with the token; that panic goes on as validate's
// own would, naming only its type.
func TestAPanicSortingValidatesErrorNeverPrintsTheToken(t *testing.T) {
	token := "SENTINEL" + rand.Text()
	h := idpoolhttp.Middleware(&countingIDs{}, func(_ *http.Request, bearer string) (tokens.Principal, error) {
		return tokens.Principal{}, isPanicky{bearer}
	}, http.NotFoundHandler())
	v := recovered(func() { call(t.Context(), h, "Bearer "+token) })
	require.NotNil(t, v, "the error's Is panicked")
	for _, s := range []string{fmt.Sprint(v), fmt.Sprintf("%#v", v), fmt.Sprintf("%+v", v)} {
		assert.NotContains(t, s, "SENTINEL")
		assert.Contains(t, s, "idpoolhttp: Validate panicked")
	}
}
