package idpoolhttp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/idpoolhttp"
	"github.com/idpool/idpool/onbehalf"
	"github.com/idpool/idpool/tokens"
)

// countingIDs records every identity built.
type countingIDs struct{ built atomic.Int32 }

func (c *countingIDs) Identity(p tokens.Principal, assertion string) (tokens.Identity, error) {
	c.built.Add(1)
	return tokens.VouchedTokenIdentity(p, neverMints)
}

// neverMints is the token source of the identities these tests build: no
// test here opens a connection.
var neverMints = tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
	return tokens.Token{}, errors.New("this test never mints")
})

// TestRefusedCallersGet401AndNoDatabaseWork: no header, another scheme, an
// empty token, and a token the callback refuses all get 401 with a
// challenge; no identity is built and the handler never runs. An accepted
// token reaches the handler with the caller's identity in its ctx.
func TestRefusedCallersGet401AndNoDatabaseWork(t *testing.T) {
	ids := &countingIDs{}
	var handled atomic.Int32
	var seen tokens.Identity
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handled.Add(1)
		id, ok := tokens.IdentityFrom(r.Context())
		require.True(t, ok)
		seen = id
	})
	validate := func(_ *http.Request, bearer string) (tokens.Principal, error) {
		if bearer != "good" {
			return tokens.Principal{}, errors.New("bad signature")
		}
		return tokens.Principal{TenantID: "t", ObjectID: "alice"}, nil
	}
	h := idpoolhttp.Middleware(ids, validate, next)
	for name, header := range map[string]string{
		"none": "", "basic": "Basic dXNlcjpwYXNz", "empty": "Bearer ", "no space": "Bearergood",
		"refused": "Bearer forged", "expired": "Bearer expired",
	} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if header != "" {
				req.Header.Set("Authorization", header)
			}
			h.ServeHTTP(rec, req)
			assert.Equal(t, http.StatusUnauthorized, rec.Code)
			assert.Contains(t, rec.Header().Get("WWW-Authenticate"), "Bearer")
			assert.NotContains(t, rec.Body.String(), "bad signature", "the reason is not shown to the caller")
		})
	}
	assert.Zero(t, handled.Load())
	assert.Zero(t, ids.built.Load())

	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "bearer good")
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.EqualValues(t, 1, handled.Load())
	d, err := seen.Discriminator(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "oid:t/alice", d)
}

// TestAnIdentityThatCannotBeBuiltIs500: the callback named an empty
// principal (an application bug): 500, and the handler does not run.
func TestAnIdentityThatCannotBeBuiltIs500(t *testing.T) {
	app, err := tokens.NewOnBehalfOfSecret("t", "api", "s", nil)
	require.NoError(t, err)
	h := idpoolhttp.Middleware(app, func(*http.Request, string) (tokens.Principal, error) { return tokens.Principal{}, nil },
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Fatal("handler ran") }))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer x")
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
}

// TestSeveralAuthorizationHeadersAreRefused: a request with two
// Authorization headers is ambiguous (RFC 9110 allows one; a proxy or the
// application's own code may read another than the middleware does), so it
// gets 400 naming the problem: validate is never asked, no identity is
// built, the handler never runs, and neither token is echoed.
func TestSeveralAuthorizationHeadersAreRefused(t *testing.T) {
	ids := &countingIDs{}
	var validated atomic.Int32
	validate := func(*http.Request, string) (tokens.Principal, error) {
		validated.Add(1)
		return tokens.Principal{TenantID: "t", ObjectID: "alice"}, nil
	}
	h := idpoolhttp.Middleware(ids, validate, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("the handler ran")
	}))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Add("Authorization", "Bearer alice-token")
	req.Header.Add("Authorization", "Bearer mallory-token")
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Header().Get("WWW-Authenticate"), `error="invalid_request"`)
	assert.Contains(t, rec.Body.String(), "more than one Authorization header")
	assert.NotContains(t, rec.Body.String(), "alice-token")
	assert.NotContains(t, rec.Body.String(), "mallory-token")
	assert.Zero(t, validated.Load())
	assert.Zero(t, ids.built.Load())
}

// TestMiddlewareRefusesNilArgumentsAtOnce: a nil validate must not wait for
// the first request to be found (nor be read as "accept any token"), and a
// nil Identities or handler neither: Middleware panics, naming which, as
// http.Handle does for a nil handler.
func TestMiddlewareRefusesNilArgumentsAtOnce(t *testing.T) {
	ids := &countingIDs{}
	validate := func(*http.Request, string) (tokens.Principal, error) { return tokens.Principal{}, nil }
	next := http.NotFoundHandler()
	assert.PanicsWithValue(t, "idpoolhttp: Middleware with nil Identities", func() { idpoolhttp.Middleware(nil, validate, next) })
	assert.PanicsWithValue(t, "idpoolhttp: Middleware with a nil Validate: every bearer token must be verified before its identity is used",
		func() { idpoolhttp.Middleware(ids, nil, next) })
	assert.PanicsWithValue(t, "idpoolhttp: Middleware with a nil next handler", func() { idpoolhttp.Middleware(ids, validate, nil) })
	assert.NotPanics(t, func() { idpoolhttp.Middleware(ids, validate, next) })

	// A constructor's result kept after its error is a nil pointer: it
	// used to pass, and every request got 500.
	failed, err := tokens.NewOnBehalfOfSecret("t", "api", "", nil)
	require.Error(t, err)
	assert.PanicsWithValue(t, "idpoolhttp: Middleware with nil Identities", func() { idpoolhttp.Middleware(failed, validate, next) })
	assert.PanicsWithValue(t, "idpoolhttp: Middleware with a nil next handler",
		func() { idpoolhttp.Middleware(ids, validate, (*countingHandler)(nil)) })
}

type countingHandler struct{ n atomic.Int32 }

func (h *countingHandler) ServeHTTP(http.ResponseWriter, *http.Request) { h.n.Add(1) }

// TestMiddlewareRefusesAFailedConstructorsCache: the usual way to set up is
// users, _ := onbehalf.NewCache(app, n); when NewCache fails (app was
// itself a failed constructor's nil) it returns the zero Cache, which
// Middleware used to take, and every request then got 500. The zero
// Cache, a pointer to it and new(tokens.OnBehalfOf) (whose first request
// panicked) are refused at once, naming the type.
func TestMiddlewareRefusesAFailedConstructorsCache(t *testing.T) {
	validate := func(*http.Request, string) (tokens.Principal, error) {
		return tokens.Principal{TenantID: "t", ObjectID: "alice"}, nil
	}
	next := http.NotFoundHandler()
	app, err := tokens.NewOnBehalfOfSecret("t", "api", "", nil) // empty secret: fails
	require.Error(t, err)
	users, err := onbehalf.NewCache(app, 10)
	require.Error(t, err)
	assert.PanicsWithValue(t, "idpoolhttp: Middleware with the zero onbehalf.Cache (kept from a constructor that failed?)",
		func() { idpoolhttp.Middleware(users, validate, next) })
	assert.PanicsWithValue(t, "idpoolhttp: Middleware with the zero *onbehalf.Cache (kept from a constructor that failed?)",
		func() { idpoolhttp.Middleware(&users, validate, next) })
	assert.PanicsWithValue(t, "idpoolhttp: Middleware with the zero *tokens.OnBehalfOf (kept from a constructor that failed?)",
		func() { idpoolhttp.Middleware(new(tokens.OnBehalfOf), validate, next) })

	good, err := tokens.NewOnBehalfOfSecret("t", "api", "s", nil)
	require.NoError(t, err)
	users, err = onbehalf.NewCache(good, 10)
	require.NoError(t, err)
	assert.NotPanics(t, func() { idpoolhttp.Middleware(users, validate, next) })
	assert.NotPanics(t, func() { idpoolhttp.Middleware(&users, validate, next) })
	assert.NotPanics(t, func() { idpoolhttp.Middleware(good, validate, next) })
}
