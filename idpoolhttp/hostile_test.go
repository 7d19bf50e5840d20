package idpoolhttp_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/idpoolhttp"
	"github.com/idpool/idpool/onbehalf"
	"github.com/idpool/idpool/tokens"
)

const hostileTenant = "c0de0000-0000-4000-8000-00000000c0de"

// hmacKey signs the test's user tokens; verify accepts only HS256 tokens
// signed with it, as a real validator accepts only its issuer's keys.
var hmacKey = []byte("idpoolhttp hostile test key")

// signed is an HS256 token over claims with the test key: one verify accepts.
func signed(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(hmacKey)
	require.NoError(t, err)
	return tok
}

// verify is a strict validator: signature (HS256 only), expiry, and the
// principal from the verified tid and oid.
func verify(_ *http.Request, bearer string) (tokens.Principal, error) {
	var claims struct {
		jwt.RegisteredClaims
		TenantID string `json:"tid"`
		ObjectID string `json:"oid"`
	}
	_, err := jwt.ParseWithClaims(bearer, &claims, func(*jwt.Token) (any, error) { return hmacKey, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		return tokens.Principal{}, err
	}
	return tokens.Principal{TenantID: claims.TenantID, ObjectID: claims.ObjectID}, nil
}

// newUsers is a Cache of size users over a test app (no exchange happens).
func newUsers(t *testing.T, size int) onbehalf.Cache {
	t.Helper()
	app, err := tokens.NewOnBehalfOfSecret(hostileTenant, "api", "api-secret", nil)
	require.NoError(t, err)
	c, err := onbehalf.NewCache(app, size)
	require.NoError(t, err)
	return c
}

// call serves one request with these Authorization headers, as given:
// httptest builds it without net/http's checks of header bytes.
func call(ctx context.Context, h http.Handler, authorization ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	for _, a := range authorization {
		req.Header.Add("Authorization", a)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestHostileAuthorizationHeaders: whatever a caller (or a front end that
// builds requests without net/http's header checks) puts in Authorization,
// the middleware does not panic, answers 401 or 400 unless validate
// accepted, hands validate only a non-empty token without surrounding
// blanks, and never echoes the header in its answer.
func TestHostileAuthorizationHeaders(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	validate := func(_ *http.Request, bearer string) (tokens.Principal, error) {
		mu.Lock()
		seen = append(seen, bearer)
		mu.Unlock()
		return tokens.Principal{}, errors.New("refused")
	}
	h := idpoolhttp.Middleware(newUsers(t, 10), validate, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("the handler ran")
	}))
	secret := "SENTINEL" + rand.Text()
	headers := []string{
		"Bearer " + strings.Repeat("A", 1<<20) + secret,
		"Bearer\x00" + secret, "Bearer \x00" + secret, "Bearer " + secret + "\x00",
		"Bearer\t" + secret, "Bearer \t " + secret + " \t", "Bearer " + secret + "\r\n",
		"bEaReR " + secret, "BEARER  " + secret + "  ", "Bearer\u00a0" + secret,
		"Bearer \u00a0", "Bearer \u2028", "Bearer", "Bearer ", "Bearer  ", " Bearer " + secret,
		"Bearer ,", "Bearer " + secret + ", Bearer other", "Basic " + secret, "Token " + secret,
		"Bearer \xff\xfe" + secret, "B\u0435arer " + secret, // Cyrillic e
		"Bearer " + secret + " " + secret, strings.Repeat(" ", 100),
	}
	for _, hdr := range headers {
		rec := call(t.Context(), h, hdr)
		assert.Contains(t, []int{http.StatusUnauthorized, http.StatusBadRequest}, rec.Code, "%.40q", hdr)
		assert.NotContains(t, rec.Body.String(), "SENTINEL")
		for _, v := range rec.Header() {
			assert.NotContains(t, strings.Join(v, " "), "SENTINEL")
		}
	}
	for _, pair := range [][]string{{"Bearer a", "Bearer b"}, {"", "Bearer a"}, {"Bearer a", "Bearer a"}} {
		assert.Equal(t, http.StatusBadRequest, call(t.Context(), h, pair...).Code, "%q", pair)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range seen {
		assert.NotEmpty(t, s)
		assert.Equal(t, strings.TrimSpace(s), s, "validate was handed blanks around the token")
	}
}

// TestATokenThatFailsVerificationNeverReachesTheCache: forged tokens that
// claim alice's tid and oid (alg none, another key, expired, absurd
// claims) get 401, and what they claim changes nothing: alice's kept
// identity stays hers and is still served to her own token, so no key and
// no cache entry is ever built from claims no one verified.
func TestATokenThatFailsVerificationNeverReachesTheCache(t *testing.T) {
	users := newUsers(t, 10)
	var got []tokens.Identity
	h := idpoolhttp.Middleware(users, verify, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		id, ok := tokens.IdentityFrom(r.Context())
		require.True(t, ok)
		got = append(got, id)
	}))
	now := time.Now()
	alice := jwt.MapClaims{"tid": hostileTenant, "oid": "alice", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	good := signed(t, alice)
	require.Equal(t, http.StatusOK, call(t.Context(), h, "Bearer "+good).Code)
	require.Equal(t, 1, users.Len())

	with := func(changes jwt.MapClaims) jwt.MapClaims {
		c := jwt.MapClaims{}
		for k, v := range alice {
			c[k] = v
		}
		for k, v := range changes {
			c[k] = v
		}
		return c
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, with(jwt.MapClaims{"iat": now.Add(time.Minute).Unix(), "exp": now.Add(99 * time.Hour).Unix()})).
		SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	otherKey, err := jwt.NewWithClaims(jwt.SigningMethodHS256, with(jwt.MapClaims{"iat": now.Add(time.Minute).Unix()})).SignedString([]byte("another key"))
	require.NoError(t, err)
	forged := []string{
		none, otherKey,
		good[:strings.LastIndexByte(good, '.')+1] + "c2lnbmF0dXJl", // alice's claims, a made-up signature
		signed(t, with(jwt.MapClaims{"exp": now.Add(-time.Minute).Unix()})),
		signed(t, with(jwt.MapClaims{"exp": "tomorrow"})),
		signed(t, with(jwt.MapClaims{"exp": math.MaxFloat64})),
		signed(t, with(jwt.MapClaims{"iat": now.Add(24 * time.Hour).Unix()})), // issued in the future
		signed(t, jwt.MapClaims{"tid": hostileTenant, "oid": "alice"}),        // no exp
	}
	for i, f := range forged {
		rec := call(t.Context(), h, "Bearer "+f)
		assert.Equal(t, http.StatusUnauthorized, rec.Code, "forged %d", i)
	}
	assert.Equal(t, 1, users.Len())
	require.Len(t, got, 1)

	// alice's own (older) token still gets the identity kept for her: had a
	// forged token's claims reached the cache, a "newer" one would be kept.
	require.Equal(t, http.StatusOK, call(t.Context(), h, "Bearer "+good).Code)
	require.Len(t, got, 2)
	assert.True(t, got[0].SameCredential(got[1]))
}

// TestConcurrentCallersEachGetTheirOwnIdentity: many requests of several
// users at once, each user with tokens renewed as they go, through one
// Middleware and Cache: every handler sees its own caller's pool key.
func TestConcurrentCallersEachGetTheirOwnIdentity(t *testing.T) {
	const users = 6
	cache := newUsers(t, 3) // smaller than the users: evictions race with lookups
	h := idpoolhttp.Middleware(cache, verify, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := tokens.IdentityFrom(r.Context())
		d, err := id.Discriminator(r.Context())
		if err != nil {
			http.Error(w, "no key", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, d)
	}))
	now := time.Now()
	toks := make([][]string, users)
	for u := range users {
		for k := range 3 {
			toks[u] = append(toks[u], signed(t, jwt.MapClaims{"tid": hostileTenant, "oid": fmt.Sprint("user-", u),
				"iat": now.Add(time.Duration(k-3) * time.Minute).Unix(), "exp": now.Add(time.Duration(60+k) * time.Minute).Unix()}))
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				u := (g + i) % users
				rec := call(t.Context(), h, "Bearer "+toks[u][i%3])
				if !assert.Equal(t, http.StatusOK, rec.Code) {
					return
				}
				assert.Equal(t, fmt.Sprintf("obo:%s/user-%d", hostileTenant, u), rec.Body.String())
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, cache.Len(), 3)
}

// TestACancelledRequestStillCarriesItsIdentity: a request whose client has
// gone (its ctx done before the middleware runs) is handled as any other:
// the handler sees the caller's identity in a ctx that is still done, so
// its queries fail at once rather than run as someone else.
func TestACancelledRequestStillCarriesItsIdentity(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ran := false
	h := idpoolhttp.Middleware(newUsers(t, 10), verify, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		ran = true
		assert.ErrorIs(t, r.Context().Err(), context.Canceled)
		id, ok := tokens.IdentityFrom(r.Context())
		require.True(t, ok)
		d, err := id.Discriminator(r.Context())
		require.NoError(t, err)
		assert.Equal(t, "obo:"+hostileTenant+"/alice", d)
	}))
	now := time.Now()
	tok := signed(t, jwt.MapClaims{"tid": hostileTenant, "oid": "alice", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	assert.Equal(t, http.StatusOK, call(ctx, h, "Bearer "+tok).Code)
	assert.True(t, ran)
}
