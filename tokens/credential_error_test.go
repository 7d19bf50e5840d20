package tokens_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/authoritytest"
	"github.com/idpool/idpool/internal/redacttest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

// TestTokenEndpointBodiesNeverReachIdpoolErrors: a token endpoint that
// echoes what it was sent (the user's assertion, the app's secret) in an
// error, or answers 200 with a real access token but an expires_in MSAL
// cannot parse, made azidentity's error text carry the response body, and
// idpool's errors (the mint's, Acquire's, its logs) carried it on. Now the
// error names the endpoint, the status, the OAuth error and AADSTS codes,
// and none of the secrets; errors.As still reaches azidentity's error.
func TestTokenEndpointBodiesNeverReachIdpoolErrors(t *testing.T) {
	endpointBodiesNeverReachIdpoolErrors(t, "ASSERTION-"+rand.Text()+rand.Text(), "SECRET-"+rand.Text()+rand.Text(), "ACCESS-"+rand.Text()+rand.Text())
}

// TestShortSecretsEchoedByATokenEndpointNeverReachIdpoolErrors: the same
// endpoints, echoing a secret shorter than the 40 characters the
// token-like pattern redacts (a password, a client secret of an authority
// other than Entra's, an assertion), with characters a JSON string
// escapes. An endpoint that answered 200 with what it was sent as
// expires_in had MSAL quote it on its error's first line (json decode
// error: unix time("...") ... parsing "..."), which idpool's error kept:
// the secret and the assertion were printed, JSON-escaped.
func TestShortSecretsEchoedByATokenEndpointNeverReachIdpoolErrors(t *testing.T) {
	endpointBodiesNeverReachIdpoolErrors(t, `As&s<r>t"n:`+rand.Text()[:6], `S~c&r<t>"%:`+rand.Text()[:6], `Ac&c<s>s"%:`+rand.Text()[:6])
}

// endpointBodiesNeverReachIdpoolErrors runs a token endpoint that echoes
// assertion and secret (and answers with access) in each way it can, and
// checks no error, log or Acquire error of idpool's holds any of them.
func endpointBodiesNeverReachIdpoolErrors(t *testing.T, assertion, secret, access string) {
	secrets := []string{assertion, secret, access}
	echo := func(w http.ResponseWriter, r *http.Request) string {
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		return r.Form.Get("assertion") + " " + r.Form.Get("client_secret")
	}
	endpoints := map[string]struct {
		h    http.HandlerFunc
		want []string // in the error's text
	}{
		"400 echoing the request": {func(w http.ResponseWriter, r *http.Request) {
			sent := echo(w, r)
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": "invalid_grant",
				"error_description": "AADSTS50013: Assertion failed signature validation: " + sent, "error_codes": []int{50013},
				"trace_id": sent, "correlation_id": "0f0e0d0c-0b0a-4009-8008-070605040302"})
		}, []string{"HTTP 400", "invalid_grant", "AADSTS50013", "0f0e0d0c-0b0a-4009-8008-070605040302"}},
		"400 echoing in the error code": {func(w http.ResponseWriter, r *http.Request) {
			sent := echo(w, r)
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": sent})
		}, []string{"HTTP 401"}},
		"200 with an expires_in MSAL cannot parse": {func(w http.ResponseWriter, r *http.Request) {
			echo(w, r)
			_ = json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": "soon", "access_token": access})
		}, []string{"json decode error"}},
		"200 with the assertion as expires_in": {func(w http.ResponseWriter, r *http.Request) {
			sent := echo(w, r)
			_ = json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": sent, "access_token": access})
		}, []string{"json decode error"}},
		"200 not JSON": {func(w http.ResponseWriter, r *http.Request) {
			sent := echo(w, r)
			fmt.Fprintf(w, "<html>%s %s</html>", sent, access)
		}, []string{"json decode error"}},
		"307 to a URL that echoes the request": {redirectEchoing, []string{"dial tcp"}},
	}
	for name, ep := range endpoints {
		t.Run(name, func(t *testing.T) {
			opts := authoritytest.Options(t, ep.h)
			app, err := tokens.NewOnBehalfOfSecret(tenant, "api", secret,
				&azidentity.OnBehalfOfCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
			require.NoError(t, err)
			obo, err := app.Identity(tokens.Principal{TenantID: tenant, ObjectID: "user-1"}, assertion)
			require.NoError(t, err)
			sp, err := tokens.ClientSecretIdentity(tenant, "app", secret,
				&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
			require.NoError(t, err)
			for kind, id := range map[string]tokens.Identity{"on-behalf-of": obo, "client secret": sp} {
				_, err := id.Source().Token(testCtx(t))
				require.Error(t, err, kind)
				for _, w := range ep.want {
					assert.Contains(t, err.Error(), w, kind)
				}
				var afe *azidentity.AuthenticationFailedError
				assert.True(t, errors.As(err, &afe), "%s: errors.As still reaches azidentity's error", kind)
				redacttest.AssertRedacted(t, secrets, err)

				// The same error as Acquire returns it and the pool logs it.
				var logs bytes.Buffer
				m, err := manager.New(manager.Config{Server: "memdb:1/hostile", Dialer: memdb.New(),
					Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
				require.NoError(t, err)
				_, aerr := m.Acquire(testCtx(t), id)
				require.Error(t, aerr, kind)
				require.NoError(t, m.Close(testCtx(t)))
				redacttest.AssertRedacted(t, secrets, aerr)
				for _, s := range secrets {
					assert.NotContains(t, logs.String(), s, kind)
				}
			}
		})
	}
}

// TestCredentialErrorsStillSayWhy: withholding the response body keeps what
// an operator needs, here a token endpoint that never answers: the mint
// ends at its ctx's deadline and says so.
func TestCredentialErrorsStillSayWhy(t *testing.T) {
	release := make(chan struct{})
	opts := authoritytest.Options(t, func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) }) // before the server's Close, which waits for its handlers
	app, err := tokens.NewOnBehalfOfSecret(tenant, "api", "secret",
		&azidentity.OnBehalfOfCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	require.NoError(t, err)
	id, err := app.Identity(tokens.Principal{TenantID: tenant, ObjectID: "user-1"}, "assertion")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(testCtx(t), 200*time.Millisecond)
	defer cancel()
	_, err = id.Source().Token(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "context deadline exceeded")
}

// TestChainErrorsKeepTheirAttempts: a chain (DefaultAzureCredential's shape:
// a credential that is unavailable, then one the endpoint refuses) still
// lists what it tried, one line per credential, and withholds the body the
// refusal came with.
func TestChainErrorsKeepTheirAttempts(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no az: the CLI credential is unavailable
	secret := "SECRET-" + rand.Text() + rand.Text()
	opts := authoritytest.Options(t, func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": "invalid_client",
			"error_description": "AADSTS7000215: Invalid client secret provided: " + r.Form.Get("client_secret")})
	})
	cli, err := azidentity.NewAzureCLICredential(nil)
	require.NoError(t, err)
	sp, err := azidentity.NewClientSecretCredential(tenant, "app", secret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	require.NoError(t, err)
	chain, err := azidentity.NewChainedTokenCredential([]azcore.TokenCredential{cli, sp}, nil)
	require.NoError(t, err)
	id, err := tokens.TokenKeyedCredentialIdentity(tokens.KindDefaultCredential, chain)
	require.NoError(t, err)
	_, err = id.Discriminator(testCtx(t))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Attempted credentials:")
	assert.Contains(t, err.Error(), "[AzureCLICredential: ")
	assert.Contains(t, err.Error(), "[ClientSecretCredential authentication failed.")
	redacttest.AssertRedacted(t, []string{secret}, err)
}

// TestTokenExpiryIsTheTokensOwnWhenSooner: MSAL computes ExpiresOn from the
// response's expires_in, and a huge one wraps around to any date (1e12
// seconds came out as the year 2149), so the pool judged a token that
// expires in ten minutes valid for a century: its connections outlived
// it. The token's own exp claim now caps ExpiresOn; a response that says
// less than the claim keeps its own.
func TestTokenExpiryIsTheTokensOwnWhenSooner(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	exp := time.Now().Add(10 * time.Minute).Truncate(time.Second)
	access := enc(`{"alg":"RS256","typ":"JWT"}`) + "." + enc(fmt.Sprintf(`{"tid":%q,"oid":"user-1","exp":%d}`, tenant, exp.Unix())) + ".c2ln"
	for expiresIn, want := range map[string]time.Time{"1000000000000": exp, "3600": exp, "400": time.Now().Add(400 * time.Second)} {
		t.Run(expiresIn, func(t *testing.T) {
			opts := authoritytest.Options(t, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":%s,"access_token":%q}`, expiresIn, access)
			})
			app, err := tokens.NewOnBehalfOfSecret(tenant, "api", "secret",
				&azidentity.OnBehalfOfCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
			require.NoError(t, err)
			id, err := app.Identity(tokens.Principal{TenantID: tenant, ObjectID: "user-1"}, "assertion")
			require.NoError(t, err)
			tok, err := id.Source().Token(testCtx(t))
			require.NoError(t, err)
			assert.WithinDuration(t, want, tok.ExpiresOn, 5*time.Second)
		})
	}
}

// redirectEchoing is a token endpoint (a misconfigured proxy in front of
// one) that redirects the request to a URL whose query echoes the user
// assertion, the client secret and the client assertion, as they are, percent-encoded and in
// base64. Nothing listens there, and the transport's error, which MSAL
// prints and idpool keeps (it says where the request went and why it
// failed), names the URL unquoted by any of describeText's patterns: no
// escapes, shorter than a token-like run.
func redirectEchoing(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	q := "https://127.0.0.1:1/echo?"
	for _, v := range []string{r.Form.Get("assertion"), r.Form.Get("client_secret"), r.Form.Get("client_assertion")} {
		if v != "" {
			q += "raw=" + v + "&q=" + url.QueryEscape(v) + "&b=" + base64.StdEncoding.EncodeToString([]byte(v)) +
				"&u=" + base64.URLEncoding.EncodeToString([]byte(v)) + "&"
		}
	}
	http.Redirect(w, r, q, http.StatusTemporaryRedirect)
}

// TestShortUnquotedSecretsAnEndpointEchoesNeverReachIdpoolErrors: a secret
// shorter than a token-like run, with no character a JSON or Go quoted
// string escapes but '&', '%' and ':' that a URL's query encodes, echoed by
// a token endpoint outside quotes (the URL of the redirect a transport
// error names) was printed whole by idpool's errors and logs, as it is and
// percent-encoded: describeText knew no secret, only the shapes of tokens.
// The client secret and the user assertion idpool holds are now taken out
// of the credential's error in every form.
func TestShortUnquotedSecretsAnEndpointEchoesNeverReachIdpoolErrors(t *testing.T) {
	endpointBodiesNeverReachIdpoolErrors(t, "As&s%r:"+rand.Text()[:6], "S~c&r%:"+rand.Text()[:6], "Ac&c%s:"+rand.Text()[:6])
}

// TestASecretThatIsACommonWordIsRedactedWhereverItOccurs: a careless
// client secret ("connection") is also a word of the error's own text
// ("connect: connection refused"). The text cannot tell the two apart, so
// every occurrence is redacted: an uglier message, never a printed secret.
// A secret under four characters ("dia") is not looked for: it occurs by
// chance in any text, and replacing it would leave no message to read.
func TestASecretThatIsACommonWordIsRedactedWhereverItOccurs(t *testing.T) {
	mint := func(secret string) error {
		opts := authoritytest.Options(t, redirectEchoing)
		id, err := tokens.ClientSecretIdentity(tenant, "app", secret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
		require.NoError(t, err)
		_, err = id.Source().Token(testCtx(t))
		require.Error(t, err)
		return err
	}
	err := mint("connection")
	redacttest.AssertRedacted(t, []string{"connection"}, err)
	assert.Contains(t, err.Error(), "dial tcp 127.0.0.1:1: connect: [redacted] refused")

	err = mint("dia")
	assert.Contains(t, err.Error(), "dial tcp 127.0.0.1:1: connect: connection refused", "a three-character secret is not looked for")
}
