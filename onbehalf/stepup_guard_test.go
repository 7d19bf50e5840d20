package onbehalf_test

// A user's pool mints only with the credential of the user's latest
// request, never on its own with an earlier assertion (see
// manager/credential_guard_test.go): an earlier assertion's cache may hold
// a token from before a revocation or a conditional-access policy.

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/authoritytest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/onbehalf"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

// TestEvictAndForgetDropThePreRevocationCredential: the user's sessions
// are revoked; as OPERATIONS.md says, the app Forgets the user, then
// Evicts the user's pool. The user signs in again, and the database's
// conditional access wants MFA: the new assertion's exchange is refused
// (AADSTS50076), which the app must see to challenge the user. The pool
// must not go back to the credential from before the Evict (whose
// azidentity cache still holds the database token minted before the
// revocation), though that credential minted last.
func TestEvictAndForgetDropThePreRevocationCredential(t *testing.T) {
	now := time.Now()
	first := userAssertion(t, now.Add(-10*time.Minute), now.Add(80*time.Minute))
	var mu sync.Mutex
	refused := map[string]bool{}
	c, m, db, exchanges := entraWithMFA(t, func(assertion string) bool {
		mu.Lock()
		defer mu.Unlock()
		return refused[assertion]
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	id1, err := c.Identity(user(1), first)
	require.NoError(t, err)
	l, err := m.Acquire(ctx, id1)
	require.NoError(t, err)
	l.Release(nil)
	require.EqualValues(t, 1, exchanges.Load())

	// Sessions revoked: Forget, then Evict, as documented.
	c.Forget(user(1))
	require.NoError(t, m.Evict(ctx, id1))
	renewed := userAssertion(t, now, now.Add(65*time.Minute))
	mu.Lock()
	refused[first], refused[renewed] = true, true
	mu.Unlock()
	before := len(db.DialAttempts())

	id2, err := c.Identity(user(1), renewed)
	require.NoError(t, err)
	l, err = m.Acquire(ctx, id2)
	if err == nil {
		l.Release(nil)
	}
	for _, a := range db.DialAttempts()[before:] {
		assert.NotEqual(t, (tokens.Token{Value: "db-token-1"}).Fingerprint(), a.TokenFingerprint,
			"a connection opened after Evict and Forget with the database token minted before the revocation")
	}
	if assert.Error(t, err, "the user was served on the forgotten credential instead of being asked for MFA") {
		assert.Contains(t, err.Error(), "AADSTS50076")
	}
}

// TestAClaimsChallengeOfTheNewestAssertionIsNotMasked: no revocation, so
// no Evict or Forget: the database's conditional access now wants MFA. The
// user's client renews its token (issued later, so the Cache adopts it),
// and the next request needs a new connection. Entra refuses the renewed
// assertion's exchange with AADSTS50076, which the app must see to
// challenge the user: the pool must not mint with the user's previous
// assertion instead, whose azidentity cache still holds the database token
// minted before the policy.
func TestAClaimsChallengeOfTheNewestAssertionIsNotMasked(t *testing.T) {
	now := time.Now()
	first := userAssertion(t, now.Add(-10*time.Minute), now.Add(80*time.Minute))
	var mfa atomic.Bool
	c, m, db, _ := entraWithMFA(t, func(string) bool { return mfa.Load() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	id1, err := c.Identity(user(1), first)
	require.NoError(t, err)
	held, err := m.Acquire(ctx, id1)
	require.NoError(t, err)
	defer held.Release(nil) // busy: the next request needs a new connection

	mfa.Store(true) // conditional access now wants MFA for the database
	renewed := userAssertion(t, now, now.Add(65*time.Minute))
	id2, err := c.Identity(user(1), renewed)
	require.NoError(t, err)
	require.False(t, id1.SameCredential(id2))
	before := len(db.DialAttempts())
	l, err := m.Acquire(ctx, id2)
	if err == nil {
		l.Release(nil)
	}
	for _, a := range db.DialAttempts()[before:] {
		assert.NotEqual(t, (tokens.Token{Value: "db-token-1"}).Fingerprint(), a.TokenFingerprint,
			"a new session opened, for the renewed assertion's request, on the token minted before the policy")
	}
	if assert.Error(t, err, "the claims challenge of the user's renewed assertion was hidden") {
		assert.Contains(t, err.Error(), "AADSTS50076")
	}
}

// entraWithMFA is a token endpoint for on-behalf-of exchanges that issues
// database tokens db-token-1, db-token-2, ..., and refuses the assertions
// refuse names with AADSTS50076 (MFA required, as conditional access asks).
// It returns a Cache over it, a Manager over memdb (closed at the test's
// end) and the count of tokens issued.
func entraWithMFA(t *testing.T, refuse func(assertion string) bool) (onbehalf.Cache, *manager.Manager, *memdb.DB, *atomic.Int64) {
	t.Helper()
	exchanges := new(atomic.Int64)
	opts := authoritytest.Options(t, func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		if refuse(r.Form.Get("assertion")) {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant","error_description":"AADSTS50076: you must use multi-factor authentication","error_codes":[50076],"suberror":"basic_action"}`)
			return
		}
		fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":3600,"access_token":"db-token-%d"}`, exchanges.Add(1))
	})
	app, err := tokens.NewOnBehalfOfSecret(tenant, "api", "secret",
		&azidentity.OnBehalfOfCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	require.NoError(t, err)
	c, err := onbehalf.NewCache(app, 10)
	require.NoError(t, err)
	db := memdb.New()
	m, err := manager.New(manager.Config{Server: "memdb:1/obo", Dialer: db})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, m.Close(ctx))
	})
	return c, m, db, exchanges
}
