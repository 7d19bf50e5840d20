package idpoolhttp_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/idpool/idpool/idpoolhttp"
	"github.com/idpool/idpool/tokens"
)

// As Middleware's doc says: a CORS preflight and a health probe carry no
// bearer token, so behind Middleware they get 401 and reach nothing; mounted
// beside it on a mux they are served, and the API's routes stay guarded.
func TestPreflightsAndHealthProbesAreServedOnlyBesideMiddleware(t *testing.T) {
	ids := &countingIDs{}
	var api, health atomic.Int32
	validate := func(*http.Request, string) (tokens.Principal, error) {
		return tokens.Principal{}, errors.New("no token is good here")
	}
	guarded := idpoolhttp.Middleware(ids, validate, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { api.Add(1) }))
	preflight := func(path string) *http.Request {
		r := httptest.NewRequest(http.MethodOptions, path, nil)
		r.Header.Set("Origin", "https://app.example")
		r.Header.Set("Access-Control-Request-Method", http.MethodGet)
		return r
	}

	rec := httptest.NewRecorder()
	guarded.ServeHTTP(rec, preflight("/orders"))
	assert.Equal(t, http.StatusUnauthorized, rec.Code, "a preflight behind Middleware")
	rec = httptest.NewRecorder()
	guarded.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.Equal(t, http.StatusUnauthorized, rec.Code, "a health probe behind Middleware")
	assert.Zero(t, api.Load())

	mux := http.NewServeMux()
	mux.Handle("/", guarded)
	mux.HandleFunc("GET /healthz", func(http.ResponseWriter, *http.Request) { health.Add(1) })
	mux.HandleFunc("OPTIONS /", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "https://app.example")
		w.WriteHeader(http.StatusNoContent)
	})
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, preflight("/orders"))
	assert.Equal(t, http.StatusNoContent, rec.Code, "a preflight beside Middleware")
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.Equal(t, http.StatusOK, rec.Code, "a health probe beside Middleware")
	assert.EqualValues(t, 1, health.Load())
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/orders", nil))
	assert.Equal(t, http.StatusUnauthorized, rec.Code, "the API's routes stay behind Middleware")
	assert.Zero(t, api.Load())
	assert.Zero(t, ids.built.Load())
}
