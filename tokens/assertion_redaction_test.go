package tokens_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/authoritytest"
	"github.com/idpool/idpool/internal/redacttest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

// assertRedactedEverywhere checks err, the error Acquire returns for id
// and the pool's logs hold none of secrets.
func assertRedactedEverywhere(t *testing.T, secrets []string, id tokens.Identity, err error) {
	t.Helper()
	redacttest.AssertRedacted(t, secrets, err)
	var logs bytes.Buffer
	m, merr := manager.New(manager.Config{Server: "memdb:1/hostile", Dialer: memdb.New(),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, merr)
	_, aerr := m.Acquire(testCtx(t), id)
	require.Error(t, aerr)
	require.NoError(t, m.Close(testCtx(t)))
	redacttest.AssertRedacted(t, secrets, aerr)
	for _, s := range secrets {
		assert.NotContains(t, logs.String(), s)
	}
}

// TestClientAssertionsAnEndpointEchoesNeverReachIdpoolErrors: the client
// assertion a caller's function returns (ClientAssertionIdentity,
// NewOnBehalfOfAssertion) is sent to the token endpoint as a client secret
// is, and one the endpoint echoed outside quotes (the URL it redirected
// to) was printed by idpool's errors and logs: short and with '&', '%' and
// ':', no pattern knows it. Each mint now records the assertions it was
// given and redacts them (and the user assertion) from its error.
func TestClientAssertionsAnEndpointEchoesNeverReachIdpoolErrors(t *testing.T) {
	clientAssertion := "Cl&a%s:" + rand.Text()[:6]
	userAssertion := "Us&r%a:" + rand.Text()[:6]
	get := func(context.Context) (string, error) { return clientAssertion, nil }
	opts := authoritytest.Options(t, redirectEchoing)

	sp, err := tokens.ClientAssertionIdentity(tenant, "app", get,
		&azidentity.ClientAssertionCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	require.NoError(t, err)
	app, err := tokens.NewOnBehalfOfAssertion(tenant, "api", get,
		&azidentity.OnBehalfOfCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	require.NoError(t, err)
	obo, err := app.Identity(tokens.Principal{TenantID: tenant, ObjectID: "user-1"}, userAssertion)
	require.NoError(t, err)

	for kind, id := range map[string]tokens.Identity{"client assertion": sp, "on-behalf-of": obo} {
		t.Run(kind, func(t *testing.T) {
			_, err := id.Source().Token(testCtx(t))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "dial tcp")
			assertRedactedEverywhere(t, []string{clientAssertion, userAssertion}, id, err)
		})
	}
}

// TestACarelessAssertionFunctionsErrorNeverPrintsItsAssertion: an
// assertion function that fails naming the assertion it got (from a key
// vault that refused it) had azidentity print that error, and idpool kept
// its first line: the assertion with it.
func TestACarelessAssertionFunctionsErrorNeverPrintsItsAssertion(t *testing.T) {
	assertion := "Cl&a%s:" + rand.Text()[:6]
	get := func(context.Context) (string, error) {
		return assertion, fmt.Errorf("the vault refused assertion %s", assertion)
	}
	id, err := tokens.ClientAssertionIdentity(tenant, "app", get,
		&azidentity.ClientAssertionCredentialOptions{ClientOptions: authoritytest.Options(t, redirectEchoing), DisableInstanceDiscovery: true})
	require.NoError(t, err)
	_, err = id.Source().Token(testCtx(t))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the vault refused assertion [redacted]")
	assertRedactedEverywhere(t, []string{assertion}, id, err)
}

// TestACarelessTokenFunctionsErrorNeverPrintsItsToken: a TokenFuncIdentity
// whose function returns the token it could not use with an error that
// names it had idpool's key lookup, Acquire and the pool's logs print the
// token. The error is now redacted of the token returned with it, and
// errors.Is still reaches the function's error.
func TestACarelessTokenFunctionsErrorNeverPrintsItsToken(t *testing.T) {
	token := "Tk&n%:" + rand.Text()[:6]
	revoked := errors.New("revoked")
	id, err := tokens.TokenFuncIdentity(func(context.Context) (tokens.Token, error) {
		return tokens.Token{Value: token}, fmt.Errorf("token %s: %w", token, revoked)
	})
	require.NoError(t, err)
	_, err = id.Discriminator(testCtx(t))
	require.Error(t, err)
	assert.ErrorIs(t, err, revoked)
	assert.Contains(t, err.Error(), "token [redacted]: revoked")
	assertRedactedEverywhere(t, []string{token}, id, err)
}
