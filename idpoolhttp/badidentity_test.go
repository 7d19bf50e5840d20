package idpoolhttp_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/idpool/idpool/idpoolhttp"
	"github.com/idpool/idpool/internal/syncbuf"
	"github.com/idpool/idpool/tokens"
)

// identitiesFunc is an Identities written as a function, as an application
// might write its own.
type identitiesFunc func(tokens.Principal, string) (tokens.Identity, error)

func (f identitiesFunc) Identity(p tokens.Principal, assertion string) (tokens.Identity, error) {
	return f(p, assertion)
}

// An Identities of the application's own that returns, without an error,
// an identity no caller may run as (the zero Identity, what a constructor
// that failed returns; or the SQL login, which would run every caller as
// the DSN's user) gets 500, logged, and the handler never runs: it ran
// before, as an authenticated request whose database calls alone were
// refused (the zero Identity) or, with the SQL login, served as the DSN's
// user.
func TestAnIdentitiesThatReturnsNoCallersIdentityIs500(t *testing.T) {
	for name, id := range map[string]tokens.Identity{
		"the zero Identity": {},
		"the SQL login":     tokens.SQLLogin(),
	} {
		t.Run(name, func(t *testing.T) {
			var logs syncbuf.Buffer
			ids := identitiesFunc(func(tokens.Principal, string) (tokens.Identity, error) { return id, nil })
			validate := func(*http.Request, string) (tokens.Principal, error) {
				return tokens.Principal{TenantID: "t", ObjectID: "alice"}, nil
			}
			h := idpoolhttp.Middleware(ids, validate,
				http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("the handler ran") }),
				idpoolhttp.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Authorization", "Bearer alices-token")
			h.ServeHTTP(rec, req)
			assert.Equal(t, http.StatusInternalServerError, rec.Code)
			assert.Contains(t, logs.String(), "could not be built")
			assert.NotContains(t, logs.String(), "alices-token")
		})
	}
}
