package onbehalf_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/authoritytest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/onbehalf"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

// stepUpAuthority is a token endpoint that refuses the on-behalf-of
// exchange of the assertions in refused as Entra does when the downstream
// resource's conditional access wants more than the assertion shows
// (AADSTS50076, MFA required) or the session behind it was revoked, and
// answers the others with a database token of user-1. exchanges counts the
// tokens it issued.
func stepUpAuthority(t *testing.T, refused map[string]bool, exchanges *atomic.Int64) azcore.ClientOptions {
	t.Helper()
	return authoritytest.Options(t, func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		if refused[r.Form.Get("assertion")] {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant","error_description":"AADSTS50076: you must use multi-factor authentication","error_codes":[50076],"suberror":"basic_action"}`)
			return
		}
		exchanges.Add(1)
		fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":3600,"access_token":"db-token-%d"}`, exchanges.Load())
	})
}

// userAssertion is a token of user-1 issued at iat, expiring at exp.
func userAssertion(t *testing.T, iat, exp time.Time) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{
		"tid": tenant, "oid": "user-1", "iat": iat.Unix(), "exp": exp.Unix(),
	}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	return tok
}

// TestANewerAssertionIsAdoptedEvenIfItExpiresSooner: Entra's access tokens
// live 60 to 90 minutes at random (a CAE one up to 28 hours), so a user's
// newer token can expire before the one it follows. Here the user's first
// token cannot be exchanged (the database's conditional access wants MFA,
// or the user's sessions were revoked); the user signs in again and sends a
// token issued after it that expires sooner. Keeping "the assertion that
// expires last" handed that request, and every later one, the first
// token's credential: the user was locked out until it expired, though the
// token they sent was good. An assertion issued after the kept one now
// replaces it; one issued no later and expiring sooner (another client's
// older token) still gets the kept one.
func TestANewerAssertionIsAdoptedEvenIfItExpiresSooner(t *testing.T) {
	now := time.Now()
	first := userAssertion(t, now.Add(-10*time.Minute), now.Add(80*time.Minute)) // a 90-minute token
	renewed := userAssertion(t, now, now.Add(65*time.Minute))                    // after MFA: 65 minutes
	var exchanges atomic.Int64
	opts := stepUpAuthority(t, map[string]bool{first: true}, &exchanges)
	app, err := tokens.NewOnBehalfOfSecret(tenant, "api", "secret",
		&azidentity.OnBehalfOfCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	require.NoError(t, err)
	c, err := onbehalf.NewCache(app, 10)
	require.NoError(t, err)
	m, err := manager.New(manager.Config{Server: "memdb:1/stepup", Dialer: memdb.New()})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	defer func() { assert.NoError(t, m.Close(ctx)) }()

	id, err := c.Identity(user(1), first)
	require.NoError(t, err)
	_, err = m.Acquire(ctx, id)
	require.Error(t, err, "the first token's exchange is refused")
	assert.Contains(t, err.Error(), "AADSTS50076")

	id, err = c.Identity(user(1), renewed)
	require.NoError(t, err)
	l, err := m.Acquire(ctx, id)
	require.NoError(t, err, "the user's renewed token is used, not the refused one kept for expiring later")
	l.Release(nil)
	assert.EqualValues(t, 1, exchanges.Load())

	older := userAssertion(t, now.Add(-20*time.Minute), now.Add(40*time.Minute))
	again, err := c.Identity(user(1), older)
	require.NoError(t, err)
	assert.True(t, id.SameCredential(again), "an assertion older in both issue and expiry gets the kept one")
}
