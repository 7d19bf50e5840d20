package tokens

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// UserCredential is what DeviceCodeCredential and InteractiveBrowserCredential
// have in common: silent GetToken plus an interactive Authenticate.
type UserCredential interface {
	azcore.TokenCredential
	Authenticate(ctx context.Context, opts *policy.TokenRequestOptions) (azidentity.AuthenticationRecord, error)
}

// ErrAccountChanged means an interactive sign-in came back as another user
// than the account an identity is keyed on. The Account refuses every token
// from then on: its credential now holds the other user's session, and
// handing those tokens to this identity's pool would mix two users.
var ErrAccountChanged = errors.New("idpool: the interactive sign-in returned a different account")

// ErrAuthenticationRequired wraps azidentity's AuthenticationRequiredError
// when a token needs the user but the Account will not prompt now: its one
// automatic sign-in is already in progress or done. Call Account.Authenticate.
var ErrAuthenticationRequired = errors.New("idpool: user sign-in required; call Account.Authenticate")

// Account states for automatic sign-in.
const (
	autoNotYet int32 = iota
	autoRunning
	autoDone
)

// Account is a signed-in user (device code or interactive browser) used
// silent first: every token comes from the credential's cache or refresh
// token, never a prompt, except that the first time the credential says it
// needs the user (azidentity.AuthenticationRequiredError) the Account calls
// Authenticate once, keeps the AuthenticationRecord and is silent after.
//
// The identity of an Account is keyed "acct:<home account id>" (lower case,
// escaped) from that
// record. Pass a saved record (json of azidentity.AuthenticationRecord) in
// the credential options and the key is known with no token at all;
// otherwise Identity signs the user in first.
//
// An Account is safe for concurrent use and holds no mutex: the record and
// the sign-in state sit behind atomics.
type Account struct {
	cred    UserCredential
	scope   string
	record  atomic.Pointer[azidentity.AuthenticationRecord]
	auto    atomic.Int32
	changed atomic.Bool
}

// NewDeviceCodeAccount builds an Account over a DeviceCodeCredential. o may
// be nil; DisableAutomaticAuthentication is forced on (prompts happen only
// through the Account). o.AuthenticationRecord, if set, fixes the key.
func NewDeviceCodeAccount(o *azidentity.DeviceCodeCredentialOptions, opts ...CredentialOption) (*Account, error) {
	var cp azidentity.DeviceCodeCredentialOptions
	if o != nil {
		cp = *o
	}
	cp.DisableAutomaticAuthentication = true
	cred, err := azidentity.NewDeviceCodeCredential(&cp)
	if err != nil {
		return nil, fmt.Errorf("idpool: device code credential: %w", err)
	}
	return NewAccount(cred, cp.AuthenticationRecord, opts...)
}

// NewInteractiveBrowserAccount builds an Account over an
// InteractiveBrowserCredential, like NewDeviceCodeAccount.
func NewInteractiveBrowserAccount(o *azidentity.InteractiveBrowserCredentialOptions, opts ...CredentialOption) (*Account, error) {
	var cp azidentity.InteractiveBrowserCredentialOptions
	if o != nil {
		cp = *o
	}
	cp.DisableAutomaticAuthentication = true
	cred, err := azidentity.NewInteractiveBrowserCredential(&cp)
	if err != nil {
		return nil, fmt.Errorf("idpool: interactive browser credential: %w", err)
	}
	return NewAccount(cred, cp.AuthenticationRecord, opts...)
}

// NewAccount builds an Account over a user credential the caller made; it
// must have been built with DisableAutomaticAuthentication and with record
// (the zero record when there is none yet).
func NewAccount(cred UserCredential, record azidentity.AuthenticationRecord, opts ...CredentialOption) (*Account, error) {
	if isNil(cred) {
		return nil, nilError("credential", cred)
	}
	a := &Account{cred: cred, scope: settingsOf(opts).scope}
	if record.HomeAccountID != "" {
		a.record.Store(&record)
	}
	return a, nil
}

// Record returns the account's AuthenticationRecord (no secret in it; save
// it to skip the sign-in next time), and whether there is one yet.
func (a *Account) Record() (azidentity.AuthenticationRecord, bool) {
	if r := a.record.Load(); r != nil {
		return *r, true
	}
	return azidentity.AuthenticationRecord{}, false
}

// Identity returns the account's identity, keyed "acct:<home account id>".
// With a record it costs nothing; without one it gets a token, which signs
// the user in (the prompt goes where the credential's options send it).
func (a *Account) Identity(ctx context.Context) (Identity, error) {
	if r := a.record.Load(); r != nil {
		return a.identityFor(r)
	}
	if _, err := a.Token(ctx); err != nil {
		return Identity{}, err
	}
	r := a.record.Load()
	if r == nil {
		return Identity{}, errors.New("idpool: the credential returned a token but no account record")
	}
	return a.identityFor(r)
}

func (a *Account) identityFor(r *azidentity.AuthenticationRecord) (Identity, error) {
	disc, err := accountDiscriminator(r.HomeAccountID)
	if err != nil {
		return Identity{}, err
	}
	return withSource(KindUserAccount, disc, a), nil
}

// Authenticate signs the user in interactively now, whatever the state, and
// keeps the record. If the Account already has a record for another user it
// returns ErrAccountChanged and refuses tokens from then on.
func (a *Account) Authenticate(ctx context.Context) (azidentity.AuthenticationRecord, error) {
	rec, err := a.authenticate(ctx, &policy.TokenRequestOptions{Scopes: []string{a.scope}})
	if err == nil {
		a.auto.Store(autoDone)
	}
	return rec, err
}

func (a *Account) authenticate(ctx context.Context, tro *policy.TokenRequestOptions) (azidentity.AuthenticationRecord, error) {
	if len(tro.Scopes) == 0 {
		// Authenticate has no default scope outside the public clouds.
		tro.Scopes = []string{a.scope}
	}
	rec, err := a.cred.Authenticate(ctx, tro)
	if err != nil {
		return azidentity.AuthenticationRecord{}, fmt.Errorf("idpool: signing the user in: %w", err)
	}
	if rec.HomeAccountID == "" {
		return azidentity.AuthenticationRecord{}, errors.New("idpool: the sign-in returned no home account id")
	}
	if !a.record.CompareAndSwap(nil, &rec) {
		if !strings.EqualFold(a.record.Load().HomeAccountID, rec.HomeAccountID) {
			a.changed.Store(true)
			return azidentity.AuthenticationRecord{}, ErrAccountChanged
		}
	}
	return rec, nil
}

// Token returns a token silently, signing the user in once if the credential
// asks for it (see Account). It implements Source.
func (a *Account) Token(ctx context.Context) (Token, error) {
	if a.changed.Load() {
		return Token{}, ErrAccountChanged
	}
	tro := policy.TokenRequestOptions{Scopes: []string{a.scope}}
	tk, err := a.cred.GetToken(ctx, tro)
	var are *azidentity.AuthenticationRequiredError
	if errors.As(err, &are) {
		if !a.auto.CompareAndSwap(autoNotYet, autoRunning) {
			return Token{}, fmt.Errorf("%w: %w", ErrAuthenticationRequired, err)
		}
		authTRO := are.TokenRequestOptions
		if _, aerr := a.authenticate(ctx, &authTRO); aerr != nil {
			if !errors.Is(aerr, ErrAccountChanged) {
				a.auto.Store(autoNotYet) // a failed sign-in may be retried
			}
			return Token{}, aerr
		}
		a.auto.Store(autoDone)
		tk, err = a.cred.GetToken(ctx, tro)
	}
	if err != nil {
		return Token{}, fmt.Errorf("idpool: getting a user token for %s: %w", a.scope, err)
	}
	if a.changed.Load() {
		return Token{}, ErrAccountChanged
	}
	return Token{Value: tk.Token, ExpiresOn: tk.ExpiresOn}, nil
}
