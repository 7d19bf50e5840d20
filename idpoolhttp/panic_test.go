package idpoolhttp_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/idpoolhttp"
	"github.com/idpool/idpool/tokens"
)

// panickyIDs panics in Identity with what it was handed.
type panickyIDs struct{}

func (panickyIDs) Identity(_ tokens.Principal, assertion string) (tokens.Identity, error) {
	panic(errors.New("cannot build from " + assertion))
}

// lines is an io.Writer that hands each write to the test over a channel:
// the server writes its log from its own goroutine.
type lines chan string

func (l lines) Write(p []byte) (int, error) { l <- string(p); return len(p), nil }

// TestAPanicHandedTheTokenNeverPrintsIt: validate and Identities are user
// code handed the caller's raw token, and a token parser's panic may quote
// it. net/http's server logs a handler's panic value, so that value went
// to the server's log with the token in it. Middleware now re-panics with
// a value that names only the type (a runtime error keeps its message),
// so the server still logs the panic and drops the connection.
func TestAPanicHandedTheTokenNeverPrintsIt(t *testing.T) {
	token := "eyJhbGciOiJub25lIn0.SENTINEL-" + rand.Text() + "."
	ok := func(*http.Request, string) (tokens.Principal, error) {
		return tokens.Principal{TenantID: "t", ObjectID: "alice"}, nil
	}
	quoting := func(_ *http.Request, bearer string) (tokens.Principal, error) {
		panic(fmt.Sprintf("malformed segment in %q", bearer))
	}
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("the handler ran") })
	for name, h := range map[string]http.Handler{
		"validate":   idpoolhttp.Middleware(&countingIDs{}, quoting, next),
		"identities": idpoolhttp.Middleware(panickyIDs{}, ok, next),
	} {
		t.Run(name, func(t *testing.T) {
			// Through a real server: its error log.
			logged := make(lines, 16)
			srv := httptest.NewUnstartedServer(h)
			srv.Config.ErrorLog = log.New(logged, "", 0)
			srv.Start()
			defer srv.Close()
			req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := srv.Client().Do(req)
			if err == nil {
				resp.Body.Close()
			}
			require.Error(t, err, "the server drops the connection of a panicking handler")
			line := <-logged
			assert.Contains(t, line, "http: panic serving")
			assert.Contains(t, line, "panicked: a value of type")
			assert.NotContains(t, line, "SENTINEL")

			// Called directly: the panic value, however it is printed.
			v := recovered(func() {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				req.Header.Set("Authorization", "Bearer "+token)
				h.ServeHTTP(rec, req)
			})
			require.NotNil(t, v)
			for _, s := range []string{fmt.Sprint(v), fmt.Sprintf("%#v", v), fmt.Sprintf("%+v", v)} {
				assert.NotContains(t, s, "SENTINEL")
			}
		})
	}
}

// TestAPanicKeepsWhatItMaySay: a runtime error's message comes from the Go
// runtime, not from the token, and is kept; http.ErrAbortHandler (abort
// the response quietly) goes on unchanged, or net/http would log it.
func TestAPanicKeepsWhatItMaySay(t *testing.T) {
	next := http.NotFoundHandler()
	var nilMap map[string]tokens.Principal
	for name, c := range map[string]struct {
		validate idpoolhttp.Validate
		check    func(t *testing.T, v any)
	}{
		"runtime error": {
			validate: func(_ *http.Request, bearer string) (tokens.Principal, error) {
				nilMap[bearer] = tokens.Principal{}
				return tokens.Principal{}, nil
			},
			check: func(t *testing.T, v any) {
				assert.Equal(t, "idpoolhttp: Validate panicked: assignment to entry in nil map", v)
			},
		},
		"abort": {
			validate: func(*http.Request, string) (tokens.Principal, error) { panic(http.ErrAbortHandler) },
			check:    func(t *testing.T, v any) { assert.Equal(t, http.ErrAbortHandler, v) },
		},
	} {
		t.Run(name, func(t *testing.T) {
			h := idpoolhttp.Middleware(&countingIDs{}, c.validate, next)
			c.check(t, recovered(func() {
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				req.Header.Set("Authorization", "Bearer x")
				h.ServeHTTP(httptest.NewRecorder(), req)
			}))
		})
	}
}

func recovered(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}
