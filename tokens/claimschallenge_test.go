package tokens_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/internal/authoritytest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

// capClaims is a claims request as Entra sends one for a conditional-access
// policy (its id a GUID).
const capClaims = `{"access_token":{"capolids":{"essential":true,"values":["c1f2e3d4-0000-4000-8000-00000000cafe"]}}}`

// refusingWith is a token endpoint that refuses every on-behalf-of exchange
// with body(assertion, secret) as Entra refuses one that conditional
// access stops.
func refusingWith(body func(assertion, secret string) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, body(r.Form.Get("assertion"), r.Form.Get("client_secret")))
	}
}

// entraRefusal is Entra's answer to an exchange that needs MFA, with
// claims as its claims member (JSON-encoded into the body).
func entraRefusal(claims string) string {
	c, _ := json.Marshal(claims)
	return `{"error":"interaction_required","error_description":"AADSTS50076: Due to a configuration change made by your administrator, ` +
		`you must use multi-factor authentication to access the database.","error_codes":[50076],"suberror":"basic_action",` +
		`"trace_id":"0b6f1d5e-3c1a-4d2b-9e8f-7a6b5c4d3e2f","claims":` + string(c) + `}`
}

// oboAcquire acquires, from a Manager over memdb, as the on-behalf-of
// identity of a user whose exchange endpoint answers, and returns the
// error; with all, also the errors of a query through the *sql.DB facade and
// of an acquire from the pgx pool, each over its own Manager.
func oboAcquire(t *testing.T, endpoint http.HandlerFunc, assertion, secret string, all bool) []error {
	t.Helper()
	app, err := tokens.NewOnBehalfOfSecret("11111111-2222-4333-8444-555555555555", "api", secret,
		&azidentity.OnBehalfOfCredentialOptions{ClientOptions: authoritytest.Options(t, endpoint), DisableInstanceDiscovery: true})
	require.NoError(t, err)
	id, err := app.Identity(tokens.Principal{TenantID: "11111111-2222-4333-8444-555555555555", ObjectID: "user-1"}, assertion)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(tokens.WithIdentity(context.Background(), id), 20*time.Second)
	defer cancel()
	newManager := func() *manager.Manager {
		m, err := manager.New(manager.Config{Server: "memdb:1/claims", Dialer: memdb.New()})
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, m.Close(context.Background())) })
		return m
	}
	l, err := newManager().Acquire(ctx, id)
	if err == nil {
		l.Release(nil)
	}
	require.Error(t, err, "the endpoint refuses every exchange")
	errs := []error{err}
	if !all {
		return errs
	}
	db := manager.OpenDB(newManager())
	defer db.Close()
	var one int
	err = db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	require.Error(t, err, "the endpoint refuses every exchange")
	errs = append(errs, err)
	pl, err := postgres.NewPool(newManager()).Acquire(ctx)
	if err == nil {
		pl.Release()
	}
	require.Error(t, err, "the endpoint refuses every exchange")
	return append(errs, err)
}

// An API acquiring on behalf of its caller whose exchange conditional
// access refuses finds Entra's claims challenge in the error (of
// Manager.Acquire, of a query through the *sql.DB facade, of the pgx pool's
// Acquire), with the
// authorize endpoint beside the token endpoint that refused, so that it can
// send its client to sign the user in again; the error's text still quotes
// no part of the body.
func TestAcquireErrorCarriesEntrasClaimsChallenge(t *testing.T) {
	errs := oboAcquire(t, refusingWith(func(string, string) string { return entraRefusal(capClaims) }), "user-assertion", "app-secret", true)
	for i, err := range errs {
		path := []string{"Manager.Acquire", "the *sql.DB facade", "the pgx pool"}[i]
		ch, ok := tokens.FindClaimsChallenge(err)
		require.True(t, ok, "%s: no claims challenge found in %v", path, err)
		assert.Equal(t, capClaims, ch.Claims, path)
		assert.Regexp(t, `^https://127\.0\.0\.1:[0-9]+/11111111-2222-4333-8444-555555555555/oauth2/v2\.0/authorize$`, ch.AuthorizeURL, path)
		assert.Contains(t, err.Error(), "AADSTS50076", path)
		assert.NotContains(t, err.Error(), "capolids", "%s: the error's text quotes the body", path)

		wrapped := fmt.Errorf("loading the orders: %w", err)
		again, ok := tokens.FindClaimsChallenge(wrapped)
		assert.True(t, ok, "%s: an error wrapping it", path)
		assert.Equal(t, ch, again, path)
	}
}

// A refusal whose claims member is missing, is not a JSON object, is
// oversized, or holds a secret of the credential's or anything token-like
// (an endpoint that echoes what it was sent) yields no challenge: the
// claims are relayed to the API's client, so what they hold must be fit
// for it. Nor does an error that is not a token endpoint's refusal.
func TestClaimsThatAreNotFitToRelayYieldNoChallenge(t *testing.T) {
	assertion := "ASSERTION-" + rand.Text() + rand.Text()
	secret := "short~S3c&" // under the token-like length: only the credential's own secrets find it
	for name, body := range map[string]func(assertion, secret string) string{
		"no claims":        func(string, string) string { return strings.Replace(entraRefusal(capClaims), `"claims"`, `"other"`, 1) },
		"empty claims":     func(string, string) string { return entraRefusal("") },
		"an array":         func(string, string) string { return entraRefusal(`["access_token"]`) },
		"a string":         func(string, string) string { return entraRefusal(`"access_token"`) },
		"not JSON":         func(string, string) string { return entraRefusal(`{"access_token":`) },
		"oversized":        func(string, string) string { return entraRefusal(`{"x":"` + strings.Repeat("a b ", 3000) + `"}`) },
		"claims not text":  func(string, string) string { return `{"error":"interaction_required","claims":{"access_token":{}}}` },
		"echoed assertion": func(a, _ string) string { return entraRefusal(`{"access_token":{"hint":{"value":"` + a + `"}}}`) },
		"echoed secret":    func(_, s string) string { return entraRefusal(`{"access_token":{"hint":{"value":"` + s + `"}}}`) },
		"a token-like run": func(string, string) string {
			return entraRefusal(`{"access_token":{"x":{"value":"` + rand.Text() + rand.Text() + `"}}}`)
		},
		"body not JSON": func(string, string) string { return `claims=` + capClaims },
	} {
		t.Run(name, func(t *testing.T) {
			err := oboAcquire(t, refusingWith(body), assertion, secret, false)[0]
			ch, ok := tokens.FindClaimsChallenge(err)
			assert.False(t, ok, "relayed %+v", ch)
			assert.Zero(t, ch)
		})
	}
	for _, err := range []error{nil, errors.New("AADSTS50076: " + capClaims), context.DeadlineExceeded} {
		_, ok := tokens.FindClaimsChallenge(err)
		assert.False(t, ok, "%v", err)
	}
}
