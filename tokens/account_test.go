package tokens_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/entra"
	"github.com/idpool/idpool/tokens"
)

// deviceCodeOptions builds device code options whose prompt signs upn in at
// the local Entra ID and counts the prompts.
func deviceCodeOptions(s *entra.Server, upn string, prompts *atomic.Int32) *azidentity.DeviceCodeCredentialOptions {
	return &azidentity.DeviceCodeCredentialOptions{
		ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true,
		TenantID: tenant, ClientID: "idpool-cli",
		UserPrompt: func(_ context.Context, m azidentity.DeviceCodeMessage) error {
			prompts.Add(1)
			return s.ApproveDeviceCode(m.UserCode, upn)
		},
	}
}

func TestAccountSilentFirstThenAuthenticateOnce(t *testing.T) {
	s := startEntra(t)
	s.RegisterUser(tenant, "alice@contoso.test", "oid-alice")
	var prompts atomic.Int32
	acct, err := tokens.NewDeviceCodeAccount(deviceCodeOptions(s, "alice@contoso.test", &prompts))
	require.NoError(t, err)
	_, ok := acct.Record()
	assert.False(t, ok)

	// No record: Identity gets a token, the silent attempt asks for the
	// user, the Account authenticates once.
	id, err := acct.Identity(testCtx(t))
	require.NoError(t, err)
	assert.Equal(t, tokens.KindUserAccount, id.Kind())
	assert.Equal(t, "acct:"+entra.HomeAccountID(tenant, "oid-alice"), discriminator(t, id))
	assert.EqualValues(t, 1, prompts.Load())
	rec, ok := acct.Record()
	require.True(t, ok)
	assert.Equal(t, "alice@contoso.test", rec.Username)
	issued := s.Issued("alice@contoso.test")

	// Silent from now on: served from the credential's cache.
	tok, err := id.Source().Token(testCtx(t))
	require.NoError(t, err)
	c, err := s.Verify(tok.Value, sqlAud)
	require.NoError(t, err)
	assert.Equal(t, "alice@contoso.test", c.UPN)
	assert.Equal(t, issued, s.Issued("alice@contoso.test"))
	assert.EqualValues(t, 1, prompts.Load())

	// An explicit sign-in is always allowed; the same user keeps the key.
	_, err = acct.Authenticate(testCtx(t))
	require.NoError(t, err)
	assert.EqualValues(t, 2, prompts.Load())
	_, err = id.Source().Token(testCtx(t))
	require.NoError(t, err)
	assert.EqualValues(t, 2, prompts.Load())
}

func TestAccountWithSavedRecordNeedsNoToken(t *testing.T) {
	s := startEntra(t)
	s.RegisterUser(tenant, "carol@contoso.test", "oid-carol")
	var prompts atomic.Int32

	// A first session signs in and saves the record as JSON.
	first, err := tokens.NewDeviceCodeAccount(deviceCodeOptions(s, "carol@contoso.test", &prompts))
	require.NoError(t, err)
	rec, err := first.Authenticate(testCtx(t))
	require.NoError(t, err)
	saved, err := json.Marshal(rec)
	require.NoError(t, err)
	requests := s.Requests()

	// A later session restores it: the key is known before any request.
	var restored azidentity.AuthenticationRecord
	require.NoError(t, json.Unmarshal(saved, &restored))
	o := deviceCodeOptions(s, "carol@contoso.test", &prompts)
	o.AuthenticationRecord = restored
	acct, err := tokens.NewDeviceCodeAccount(o)
	require.NoError(t, err)
	id, err := acct.Identity(testCtx(t))
	require.NoError(t, err)
	assert.Equal(t, "acct:"+entra.HomeAccountID(tenant, "oid-carol"), discriminator(t, id))
	assert.Equal(t, requests, s.Requests())
	assert.EqualValues(t, 1, prompts.Load())

	// Without a persistent cache the new credential has no session: the
	// first token signs in once, as the same user, then stays silent.
	_, err = id.Source().Token(testCtx(t))
	require.NoError(t, err)
	assert.EqualValues(t, 2, prompts.Load())
	_, err = id.Source().Token(testCtx(t))
	require.NoError(t, err)
	assert.EqualValues(t, 2, prompts.Load())
}

func TestAccountRefusesAnotherUser(t *testing.T) {
	s := startEntra(t)
	s.RegisterUser(tenant, "dave@contoso.test", "oid-dave")
	s.RegisterUser(tenant, "eve@contoso.test", "oid-eve")
	var prompts atomic.Int32
	o := deviceCodeOptions(s, "eve@contoso.test", &prompts) // eve approves the code
	o.AuthenticationRecord = azidentity.AuthenticationRecord{
		HomeAccountID: entra.HomeAccountID(tenant, "oid-dave"), Username: "dave@contoso.test", Version: "1.0",
	}
	acct, err := tokens.NewDeviceCodeAccount(o)
	require.NoError(t, err)
	id, err := acct.Identity(testCtx(t))
	require.NoError(t, err)

	_, err = id.Source().Token(testCtx(t))
	require.ErrorIs(t, err, tokens.ErrAccountChanged)
	// The credential now holds eve's session; dave's identity must not get it.
	_, err = id.Source().Token(testCtx(t))
	require.ErrorIs(t, err, tokens.ErrAccountChanged)
	rec, _ := acct.Record()
	assert.Equal(t, entra.HomeAccountID(tenant, "oid-dave"), rec.HomeAccountID)
	assert.EqualValues(t, 1, prompts.Load())
}

func TestAccountFailedSignInIsRetried(t *testing.T) {
	s := startEntra(t)
	s.RegisterUser(tenant, "frank@contoso.test", "oid-frank")
	var prompts atomic.Int32
	acct, err := tokens.NewDeviceCodeAccount(deviceCodeOptions(s, "frank@contoso.test", &prompts))
	require.NoError(t, err)

	s.SetFailing(true)
	_, err = acct.Identity(testCtx(t))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "temporarily_unavailable")
	_, ok := acct.Record()
	assert.False(t, ok)

	s.SetFailing(false)
	id, err := acct.Identity(testCtx(t))
	require.NoError(t, err)
	assert.Equal(t, "acct:"+entra.HomeAccountID(tenant, "oid-frank"), discriminator(t, id))
	assert.EqualValues(t, 1, prompts.Load(), "the failed attempt never reached the prompt")
}

func TestAccountSignsInAutomaticallyOnlyOnce(t *testing.T) {
	s := startEntra(t)
	s.RegisterUser(tenant, "grace@contoso.test", "oid-grace")
	s.SetLifetime(2 * time.Minute) // never cached: every token redeems the refresh token
	var prompts atomic.Int32
	acct, err := tokens.NewDeviceCodeAccount(deviceCodeOptions(s, "grace@contoso.test", &prompts))
	require.NoError(t, err)
	id, err := acct.Identity(testCtx(t))
	require.NoError(t, err)
	// Near expiry the credential redeems its refresh token: new tokens, no prompt.
	a, err := id.Source().Token(testCtx(t))
	require.NoError(t, err)
	s.Rotate("grace@contoso.test")
	b, err := id.Source().Token(testCtx(t))
	require.NoError(t, err)
	assert.NotEqual(t, a.Value, b.Value)
	cb, err := s.Verify(b.Value, sqlAud)
	require.NoError(t, err)
	assert.Equal(t, 1, cb.Generation)
	assert.EqualValues(t, 1, prompts.Load())

	// The user's sessions are revoked: the credential needs the user again,
	// but a pool's token request must not prompt a second time.
	s.RevokeRefreshTokens("grace@contoso.test")
	_, err = id.Source().Token(testCtx(t))
	require.ErrorIs(t, err, tokens.ErrAuthenticationRequired)
	var are *azidentity.AuthenticationRequiredError
	require.ErrorAs(t, err, &are)
	assert.EqualValues(t, 1, prompts.Load())

	// The application decides to sign the user in again.
	_, err = acct.Authenticate(testCtx(t))
	require.NoError(t, err)
	assert.EqualValues(t, 2, prompts.Load())
	_, err = id.Source().Token(testCtx(t))
	require.NoError(t, err)
	assert.EqualValues(t, 2, prompts.Load())
}

func TestNewAccountValidates(t *testing.T) {
	_, err := tokens.NewAccount(nil, azidentity.AuthenticationRecord{})
	require.Error(t, err)
	cred, err := azidentity.NewDeviceCodeCredential(&azidentity.DeviceCodeCredentialOptions{DisableAutomaticAuthentication: true})
	require.NoError(t, err)
	// An odd home account id is escaped, never able to reach another key.
	a, err := tokens.NewAccount(cred, azidentity.AuthenticationRecord{HomeAccountID: "a\x00b/c:d"})
	require.NoError(t, err)
	id, err := a.Identity(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "acct:a%00b%2fc%3ad", discriminator(t, id))
}

func TestAccountConcurrentFirstTokensPromptOnce(t *testing.T) {
	s := startEntra(t)
	s.RegisterUser(tenant, "heidi@contoso.test", "oid-heidi")
	var prompts atomic.Int32
	acct, err := tokens.NewDeviceCodeAccount(deviceCodeOptions(s, "heidi@contoso.test", &prompts))
	require.NoError(t, err)

	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := acct.Token(testCtx(t))
			errs <- err
		}()
	}
	// Callers that arrive during the one sign-in wait for it (they used to
	// fail with ErrAuthenticationRequired).
	for range n {
		require.NoError(t, <-errs)
	}
	assert.EqualValues(t, 1, prompts.Load())
	_, err = acct.Token(testCtx(t))
	require.NoError(t, err)
}

func TestInteractiveBrowserAccount(t *testing.T) {
	s := startEntra(t)
	require.NoError(t, entra.InstallFakeBrowser(t))
	s.RegisterUser(tenant, "mallory@contoso.test", "oid-mallory")
	s.SetSignedInUser("mallory@contoso.test")
	acct, err := tokens.NewInteractiveBrowserAccount(&azidentity.InteractiveBrowserCredentialOptions{
		ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true, TenantID: tenant, ClientID: "idpool-gui",
	}, tokens.WithScope(tokens.ScopePostgreSQL))
	require.NoError(t, err)
	id, err := acct.Identity(testCtx(t))
	require.NoError(t, err)
	assert.Equal(t, "acct:"+entra.HomeAccountID(tenant, "oid-mallory"), discriminator(t, id))
	tok, err := id.Source().Token(testCtx(t))
	require.NoError(t, err)
	c, err := s.Verify(tok.Value, pgAud)
	require.NoError(t, err)
	assert.Equal(t, "mallory@contoso.test", c.UPN)
	assert.Equal(t, 1, s.Issued("mallory@contoso.test"), "one sign-in, then silent from the cache")
}
