package idpoolhttp_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/idpoolhttp"
	"github.com/idpool/idpool/tokens"
)

// keptIDs stands for an Identities that keeps the token it is handed, as
// *tokens.OnBehalfOf's credential does.
type keptIDs struct{}

func (k keptIDs) Identity(p tokens.Principal, _ string) (tokens.Identity, error) {
	return tokens.VouchedTokenIdentity(p, neverMints)
}

// TestTheTokenHandedOnHoldsOnlyItself: whatever Identities the middleware is
// given (not only onbehalf.Cache, which copies the token itself), the token
// it hands on from a padded header ("Bearer    <token>") is not a substring
// of the header's value, which an Identities keeping it would keep whole.
func TestTheTokenHandedOnHoldsOnlyItself(t *testing.T) {
	shared := make(chan bool, 1)
	validate := func(r *http.Request, bearer string) (tokens.Principal, error) {
		h := r.Header.Get("Authorization")
		start, end := uintptr(unsafe.Pointer(unsafe.StringData(h))), uintptr(unsafe.Pointer(unsafe.StringData(h)))+uintptr(len(h))
		p := uintptr(unsafe.Pointer(unsafe.StringData(bearer)))
		shared <- p >= start && p < end
		return tokens.Principal{TenantID: "t", ObjectID: "o"}, nil
	}
	h := idpoolhttp.Middleware(keptIDs{}, validate, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer          the-token-itself")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.False(t, <-shared, "the token handed on shares the padded header's memory")
}
