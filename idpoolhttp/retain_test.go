package idpoolhttp_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/idpoolhttp"
)

// TestAPaddedHeaderIsNotKeptWithTheToken: net/http trims the blanks around
// a header's value but not those between "Bearer" and the token, and the
// token the middleware handed on was a substring of the header's value.
// onbehalf.Cache (and the credential it builds, which the user's pool
// adopts) keeps the token for as long as it keeps the user, so a caller
// who padded each request's header to near net/http's limit of 1 MB made
// the server keep that megabyte per user, a token of a few hundred bytes
// holding it: with the cache's default of 10,000 users, gigabytes no
// request used. The token handed on now holds only itself.
func TestAPaddedHeaderIsNotKeptWithTheToken(t *testing.T) {
	const users, padding = 16, 512 << 10
	cache := newUsers(t, users)
	srv := httptest.NewServer(idpoolhttp.Middleware(cache, verify, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	now := time.Now()
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	pad := strings.Repeat(" ", padding)
	for u := range users {
		tok := signed(t, jwt.MapClaims{"tid": hostileTenant, "oid": fmt.Sprint("user-", u), "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer"+pad+tok)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	srv.Close()
	pad = ""
	require.Equal(t, users, cache.Len())
	grown := int64(heap()) - int64(before)
	assert.Less(t, grown, int64(users*padding/4), "the cache of %d users keeps %d bytes", users, grown)
	runtime.KeepAlive(cache)
}
