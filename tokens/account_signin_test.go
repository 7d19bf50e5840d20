package tokens_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/entra"
	"github.com/idpool/idpool/tokens"
)

// hookedCred is azidentity's real DeviceCodeCredential with hooks run just
// after its GetToken and Authenticate return, so that a test can place
// another caller at an exact point of an Account's sign-in. Nothing here
// changes what the credential does.
type hookedCred struct {
	tokens.UserCredential
	afterGet  func(ctx context.Context, err error)
	afterAuth func()
}

func (h *hookedCred) GetToken(ctx context.Context, tro policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tk, err := h.UserCredential.GetToken(ctx, tro)
	if h.afterGet != nil {
		h.afterGet(ctx, err)
	}
	return tk, err
}

func (h *hookedCred) Authenticate(ctx context.Context, tro *policy.TokenRequestOptions) (azidentity.AuthenticationRecord, error) {
	rec, err := h.UserCredential.Authenticate(ctx, tro)
	if h.afterAuth != nil {
		h.afterAuth()
	}
	return rec, err
}

func hookedDeviceCode(t *testing.T, o *azidentity.DeviceCodeCredentialOptions) *hookedCred {
	t.Helper()
	o.DisableAutomaticAuthentication = true
	cred, err := azidentity.NewDeviceCodeCredential(o)
	require.NoError(t, err)
	return &hookedCred{UserCredential: cred}
}

type cancelKey struct{}

// TestAccountNeverHandsOutATokenOfASwitchedSessionBeforeItSaysSo: the
// Account is dave's (a saved record), and at the prompt eve signs in. The
// credential holds eve's session from the moment its Authenticate returns,
// but the Account learns that the account changed only after; a token the
// pool asks for in between was eve's, handed to dave's pool (a connection
// of eve's keyed as dave's). A token obtained while a sign-in is in progress
// is now used only once the sign-in has said who signed in.
func TestAccountNeverHandsOutATokenOfASwitchedSessionBeforeItSaysSo(t *testing.T) {
	s := startEntra(t)
	s.RegisterUser(tenant, "dave@contoso.test", "oid-dave-sw")
	s.RegisterUser(tenant, "eve@contoso.test", "oid-eve-sw")
	var prompts atomic.Int32
	daves := azidentity.AuthenticationRecord{
		HomeAccountID: entra.HomeAccountID(tenant, "oid-dave-sw"), Username: "dave@contoso.test", Version: "1.0",
		Authority: "login.microsoftonline.com", ClientID: "idpool-cli", TenantID: tenant,
	}
	o := deviceCodeOptions(s, "eve@contoso.test", &prompts) // eve approves the code
	o.AuthenticationRecord = daves
	cred := hookedDeviceCode(t, o)
	acct, err := tokens.NewAccount(cred, daves)
	require.NoError(t, err)
	id, err := acct.Identity(testCtx(t))
	require.NoError(t, err)
	assert.Equal(t, "acct:"+entra.HomeAccountID(tenant, "oid-dave-sw"), discriminator(t, id))

	// The second caller's ctx ends as soon as its GetToken has returned: a
	// token it was handed then is in its hands, and the only other way out
	// is to wait for the sign-in, which its ctx no longer allows.
	cred.afterGet = func(ctx context.Context, _ error) {
		if cancel, ok := ctx.Value(cancelKey{}).(context.CancelFunc); ok {
			cancel()
		}
	}
	var second struct {
		tok tokens.Token
		err error
	}
	cred.afterAuth = func() {
		cred.afterAuth = nil
		ctx, cancel := context.WithCancel(testCtx(t))
		ctx = context.WithValue(ctx, cancelKey{}, cancel)
		done := make(chan struct{})
		go func() {
			defer close(done)
			second.tok, second.err = id.Source().Token(ctx)
		}()
		<-done // hold this sign-in until the second caller is answered
	}
	// The pool's first token: dave has no session in this credential yet,
	// so the Account signs in; eve approves.
	_, err = id.Source().Token(testCtx(t))
	require.ErrorIs(t, err, tokens.ErrAccountChanged)
	assert.EqualValues(t, 1, prompts.Load())

	if !second.tok.IsZero() {
		c, err := s.Verify(second.tok.Value, sqlAud)
		require.NoError(t, err)
		t.Errorf("dave's identity was handed a token of %s", c.UPN)
	}
	require.Error(t, second.err)
	_, err = id.Source().Token(testCtx(t))
	require.ErrorIs(t, err, tokens.ErrAccountChanged)
}

// TestAccountCallersThatNeedTheSameSignInShareIt: two callers (two pools of
// one account, or Identity calls at start-up) both hear from the credential
// that the user must sign in. One signs the user in; the other used to fail
// at once with ErrAuthenticationRequired, whose advice (call Authenticate)
// prompts the user a second time. It now waits for the sign-in in progress
// and gets its token silently: one prompt, every caller served.
func TestAccountCallersThatNeedTheSameSignInShareIt(t *testing.T) {
	s := startEntra(t)
	s.RegisterUser(tenant, "ivan@contoso.test", "oid-ivan")
	var prompts atomic.Int32
	cred := hookedDeviceCode(t, deviceCodeOptions(s, "ivan@contoso.test", &prompts))
	// Both callers' first GetToken has said "sign-in required" before either
	// goes on: the interleaving in which they both need the sign-in.
	var needed atomic.Int32
	var barrier sync.WaitGroup
	barrier.Add(2)
	cred.afterGet = func(_ context.Context, err error) {
		var are *azidentity.AuthenticationRequiredError
		if errors.As(err, &are) && needed.Add(1) <= 2 {
			barrier.Done()
			barrier.Wait()
		}
	}
	acct, err := tokens.NewAccount(cred, azidentity.AuthenticationRecord{})
	require.NoError(t, err)

	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := acct.Token(testCtx(t))
			errs <- err
		}()
	}
	for range 2 {
		assert.NoError(t, <-errs)
	}
	assert.EqualValues(t, 1, prompts.Load())
	id, err := acct.Identity(testCtx(t))
	require.NoError(t, err)
	assert.Equal(t, "acct:"+entra.HomeAccountID(tenant, "oid-ivan"), discriminator(t, id))
}

// TestAccountSignInThatPanicsCanBeRetried: the device code prompt is the
// application's code, and it may panic. The panic reaches the caller (a
// pool's mint recovers it), but the sign-in must end with it: it used to
// stay "in progress" for good, so the Account never signed the user in
// automatically again (every later token: ErrAuthenticationRequired).
func TestAccountSignInThatPanicsCanBeRetried(t *testing.T) {
	s := startEntra(t)
	s.RegisterUser(tenant, "judy@contoso.test", "oid-judy")
	var prompts atomic.Int32
	o := deviceCodeOptions(s, "judy@contoso.test", &prompts)
	approve := o.UserPrompt
	var panicked atomic.Bool
	o.UserPrompt = func(ctx context.Context, m azidentity.DeviceCodeMessage) error {
		if panicked.CompareAndSwap(false, true) {
			panic("the prompt's own bug")
		}
		return approve(ctx, m)
	}
	acct, err := tokens.NewDeviceCodeAccount(o)
	require.NoError(t, err)
	require.PanicsWithValue(t, "the prompt's own bug", func() { _, _ = acct.Token(testCtx(t)) })

	_, err = acct.Token(testCtx(t))
	require.NoError(t, err, "the sign-in is tried again, not waited for or refused")
	assert.EqualValues(t, 1, prompts.Load())
	_, err = acct.Authenticate(testCtx(t))
	require.NoError(t, err)
}
