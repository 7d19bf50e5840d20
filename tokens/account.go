package tokens

import (
	"context"
	"errors"
	"fmt"
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
// automatic sign-in is done (a caller that needs the user while a sign-in is
// in progress waits for it instead). Call Account.Authenticate.
var ErrAuthenticationRequired = errors.New("idpool: user sign-in required; call Account.Authenticate")

// Account states for automatic sign-in. That one is in progress is said by
// Account.signIn, which every sign-in (automatic or not) holds while it runs.
const (
	autoNotYet int32 = iota
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
// One sign-in runs at a time: a caller that needs the user while one is in
// progress (the automatic one, or Authenticate) waits for it, bounded by its
// own ctx, and then asks silently again; so does a caller whose token was
// minted while one was in progress, since until the sign-in returns nobody
// knows whose session the credential now holds.
//
// An Account is safe for concurrent use and holds no mutex: the record and
// the sign-in state sit behind atomics, and a sign-in in progress is
// published with a compare-and-swap (as a token-keyed identity's key lookup
// is).
type Account struct {
	cred    UserCredential
	scope   string
	record  atomic.Pointer[azidentity.AuthenticationRecord]
	auto    atomic.Int32
	changed atomic.Bool
	// signIn is the sign-in in progress, nil when none; signIns counts the
	// sign-ins that ended. A sign-in stores changed and auto before it ends,
	// so a caller that sees no sign-in in progress sees what every earlier
	// one decided.
	signIn  atomic.Pointer[signIn]
	signIns atomic.Uint64
	// credTag is the credential tag of every Identity the Account returns:
	// they all mint through this one Account, so a pool must not take
	// each call's Identity for a new credential (that retried a failed
	// mint with the same Account, and ended a blocking period, whenever
	// another request had called Identity meanwhile).
	credTag *credentialTag
}

// signIn is one sign-in in progress; err is its outcome, read only after
// done is closed.
type signIn struct {
	done chan struct{}
	err  error
}

// errSignInPanicked ends a sign-in whose credential (or the prompt callback
// it calls) panicked, so that its waiters are not left waiting; the panic
// itself goes on to the caller.
var errSignInPanicked = errors.New("idpool: the user sign-in panicked")

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
	a := &Account{cred: cred, scope: settingsOf(opts).scope, credTag: new(credentialTag)}
	if record.HomeAccountID != "" {
		a.record.Store(&record)
	}
	return a, nil
}

// usable reports why a is no Account: nil, the result of a constructor that
// failed (acct, _ := NewDeviceCodeAccount(o)), or the zero Account, which
// has no credential. Without it the first request panicked on a nil
// dereference far from the mistake.
func (a *Account) usable() error {
	switch {
	case a == nil:
		return fmt.Errorf("%w: nil *tokens.Account (a constructor's result kept after it returned an error?)", ErrInvalidIdentity)
	case a.cred == nil:
		return fmt.Errorf("%w: the zero tokens.Account; use NewDeviceCodeAccount, NewInteractiveBrowserAccount or NewAccount", ErrInvalidIdentity)
	}
	return nil
}

// Record returns the account's AuthenticationRecord (no secret in it; save
// it to skip the sign-in next time), and whether there is one yet.
func (a *Account) Record() (azidentity.AuthenticationRecord, bool) {
	if a == nil {
		return azidentity.AuthenticationRecord{}, false
	}
	if r := a.record.Load(); r != nil {
		return *r, true
	}
	return azidentity.AuthenticationRecord{}, false
}

// Identity returns the account's identity, keyed "acct:<home account id>".
// With a record it costs nothing; without one it gets a token, which signs
// the user in (the prompt goes where the credential's options send it).
// Every call returns the same credential (SameCredential), since all mint
// through this Account: calling it per request changes nothing for the
// pool.
//
// A nil ctx is refused with an error matching ErrNilContext, even with a
// record (when ctx would go unused), as Token refuses it: without a record
// the call gets a token, and a nil ctx passed that far began a sign-in that
// was bound to fail (see Token).
func (a *Account) Identity(ctx context.Context) (Identity, error) {
	if err := a.usable(); err != nil {
		return Identity{}, err
	}
	if ctx == nil {
		return Identity{}, nilContextError("Account.Identity")
	}
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
	// One credential for every call (see credTag): the record, and so
	// the key, never changes once set.
	return Identity{kind: KindUserAccount, disc: disc, source: a, cred: a.credTag}, nil
}

// Authenticate signs the user in interactively now, whatever the state, and
// keeps the record; if another sign-in is in progress it waits for that one
// to end first (bounded by ctx). If the Account already has a record for
// another user it returns ErrAccountChanged and refuses tokens from then on.
//
// A nil ctx is refused first, with an error matching ErrNilContext, before a
// sign-in is begun: it reached the credential only after the sign-in was
// published, which then failed with net/http's "nil Context", worded as a
// failed sign-in of the user's.
func (a *Account) Authenticate(ctx context.Context) (azidentity.AuthenticationRecord, error) {
	if err := a.usable(); err != nil {
		return azidentity.AuthenticationRecord{}, err
	}
	if ctx == nil {
		return azidentity.AuthenticationRecord{}, nilContextError("Account.Authenticate")
	}
	var f *signIn
	for f == nil {
		if cur := a.signIn.Load(); cur != nil {
			if err := a.waitSignIn(ctx, cur); err != nil {
				return azidentity.AuthenticationRecord{}, err
			}
		}
		f = a.beginSignIn()
	}
	return a.runSignIn(ctx, f, &policy.TokenRequestOptions{Scopes: []string{a.scope}})
}

// beginSignIn publishes a new sign-in, or returns nil if one is in progress.
func (a *Account) beginSignIn() *signIn {
	f := &signIn{done: make(chan struct{})}
	if !a.signIn.CompareAndSwap(nil, f) {
		return nil
	}
	return f
}

// endSignIn publishes the outcome of f. Callers store changed and auto
// first: whoever sees no sign-in in progress must see what f decided.
func (a *Account) endSignIn(f *signIn, err error) {
	f.err = err
	a.signIns.Add(1)
	a.signIn.Store(nil)
	close(f.done)
}

// runSignIn signs the user in as sign-in f and ends f, even if the
// credential panics (the panic goes on: a pool's mint recovers it).
func (a *Account) runSignIn(ctx context.Context, f *signIn, tro *policy.TokenRequestOptions) (rec azidentity.AuthenticationRecord, err error) {
	ended := false
	defer func() {
		if !ended {
			a.endSignIn(f, errSignInPanicked)
		}
	}()
	rec, err = a.authenticate(ctx, tro)
	if err == nil {
		a.auto.Store(autoDone)
	}
	ended = true
	a.endSignIn(f, err)
	return rec, err
}

// waitSignIn waits for sign-in f to end, or for ctx.
func (a *Account) waitSignIn(ctx context.Context, f *signIn) error {
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("idpool: waiting for the user sign-in in progress: %w", ctx.Err())
	}
}

func (a *Account) authenticate(ctx context.Context, tro *policy.TokenRequestOptions) (azidentity.AuthenticationRecord, error) {
	if len(tro.Scopes) == 0 {
		// Authenticate has no default scope outside the public clouds.
		tro.Scopes = []string{a.scope}
	}
	rec, err := a.cred.Authenticate(ctx, tro)
	if err != nil {
		return azidentity.AuthenticationRecord{}, redactCredentialError("idpool: signing the user in", err, nil, false)
	}
	if rec.HomeAccountID == "" {
		return azidentity.AuthenticationRecord{}, errors.New("idpool: the sign-in returned no home account id")
	}
	if !a.record.CompareAndSwap(nil, &rec) {
		if foldID(a.record.Load().HomeAccountID) != foldID(rec.HomeAccountID) { // as keys compare ids
			a.changed.Store(true)
			return azidentity.AuthenticationRecord{}, ErrAccountChanged
		}
	}
	return rec, nil
}

// Token returns a token silently, signing the user in once if the credential
// asks for it (see Account). It implements Source.
//
// A nil ctx is refused first, with an error matching ErrNilContext, before
// the credential is asked for a token or a sign-in begun (a pool never
// passes one; a caller of Source().Token might). Without a record it began
// a sign-in that failed with net/http's "nil Context", worded as a failed
// sign-in of the user's, and every caller waiting for that sign-in was
// handed the same failure.
func (a *Account) Token(ctx context.Context) (Token, error) {
	if err := a.usable(); err != nil {
		return Token{}, err
	}
	if ctx == nil {
		return Token{}, nilContextError("Account.Token")
	}
	tro := policy.TokenRequestOptions{Scopes: []string{a.scope}}
	for {
		if a.changed.Load() {
			return Token{}, ErrAccountChanged
		}
		ended := a.signIns.Load()
		tk, err := a.cred.GetToken(ctx, tro)
		var are *azidentity.AuthenticationRequiredError
		needsUser := errors.As(err, &are)
		if f := a.signIn.Load(); f != nil {
			// A sign-in is in progress. The credential's session may already
			// be another user's (azidentity switches it before its
			// Authenticate returns, and only then does the Account compare
			// the accounts), so this token may not be this account's; and a
			// "sign-in required" is about to be answered. Either way, wait
			// for the sign-in and ask again.
			if werr := a.waitSignIn(ctx, f); werr != nil {
				return Token{}, werr
			}
			if needsUser && f.err != nil && !isCtxErr(f.err) {
				// The user's sign-in failed: say so rather than prompt again
				// for every caller that was waiting for it. One whose ctx
				// ended is taken over by a caller with time left.
				return Token{}, f.err
			}
			continue
		}
		if needsUser {
			if a.signIns.Load() != ended {
				continue // a sign-in ended since GetToken began: silent again
			}
			if a.auto.Load() == autoDone {
				return Token{}, fmt.Errorf("%w: %w", ErrAuthenticationRequired, err)
			}
			f := a.beginSignIn()
			if f == nil {
				continue // another caller began one: wait for it
			}
			if a.signIns.Load() != ended {
				// One began and ended between our checks: this caller need
				// not prompt.
				a.endSignIn(f, nil)
				continue
			}
			authTRO := are.TokenRequestOptions
			if _, aerr := a.runSignIn(ctx, f, &authTRO); aerr != nil {
				return Token{}, aerr // a failed sign-in may be retried by a later call
			}
			continue // silent now
		}
		if err != nil {
			return Token{}, redactCredentialError("idpool: getting a user token for "+a.scope, err, nil, false)
		}
		// No sign-in is in progress, so every one that overlapped GetToken
		// has ended and stored changed.
		if a.changed.Load() {
			return Token{}, ErrAccountChanged
		}
		return tokenOf(tk), nil
	}
}
