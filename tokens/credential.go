package tokens

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Token scopes of the databases idpool talks to.
const (
	// ScopeAzureSQL is the scope of Azure SQL Database and SQL Server with
	// Entra authentication; the default of every constructor here.
	ScopeAzureSQL = "https://database.windows.net/.default"
	// ScopePostgreSQL is the scope of Azure Database for PostgreSQL, whose
	// token is sent as the password.
	ScopePostgreSQL = "https://ossrdbms-aad.database.windows.net/.default"
)

// CredentialOption tunes the Source an Azure constructor builds.
type CredentialOption func(*credentialSettings)

type credentialSettings struct {
	scope string
}

// WithScope sets the scope tokens are requested for; "" keeps the default,
// ScopeAzureSQL.
func WithScope(scope string) CredentialOption {
	return func(s *credentialSettings) {
		if scope != "" {
			s.scope = scope
		}
	}
}

func settingsOf(opts []CredentialOption) credentialSettings {
	s := credentialSettings{scope: ScopeAzureSQL}
	for _, o := range opts {
		if o != nil {
			o(&s)
		}
	}
	return s
}

// credentialSource adapts an azidentity credential to Source. It is a
// pointer type so that formatting an Identity with %#v prints its address,
// never the credential (which may hold a secret).
type credentialSource struct {
	cred  azcore.TokenCredential
	scope string
	// secrets yields the secrets cred was built with, taken out of its
	// errors (see redactCredentialError); nil for a credential idpool was
	// handed, whose secrets it does not know.
	secrets knownSecrets
	// assertions is set when cred calls a caller's assertion function
	// wrapped by recordingAssertions: each mint records what it returned,
	// and its error is redacted of them too.
	assertions bool
	// onBehalfOf is set for an on-behalf-of exchange idpool built: only
	// its refusal's claims challenge is kept to relay to the API's
	// caller (see FindClaimsChallenge).
	onBehalfOf bool
}

// CredentialSource adapts any azcore.TokenCredential to a Source for one
// scope (default ScopeAzureSQL). The credential's own cache decides when a
// token is new; ExpiresOn is carried over, or the token's own exp claim if
// it is a JWT that expires sooner, RefreshOn is dropped. A nil
// cred, or a nil pointer in it (a constructor's result kept after an
// error), gives a Source whose every Token fails with an error matching
// ErrInvalidIdentity that says so.
func CredentialSource(cred azcore.TokenCredential, opts ...CredentialOption) Source {
	if isNil(cred) {
		return refusedSource{nilError("credential", cred)} // every mint says why
	}
	return credentialSourceHolding(cred, nil, false, opts)
}

// credentialSourceHolding is CredentialSource over a credential idpool
// built with secrets, which its errors are redacted of, and, when
// assertions is set, with an assertion function recordingAssertions
// wrapped. cred is not nil.
func credentialSourceHolding(cred azcore.TokenCredential, secrets knownSecrets, assertions bool, opts []CredentialOption) *credentialSource {
	s := settingsOf(opts)
	return &credentialSource{cred: cred, scope: s.scope, secrets: secrets, assertions: assertions}
}

// Token asks the credential for a token. A nil ctx is refused first (see
// ErrNilContext): left to run, the assertion recorder's WithValue panicked,
// or azidentity began a request that failed with net/http's "nil Context",
// worded as a failed mint of the credential's.
func (c *credentialSource) Token(ctx context.Context) (Token, error) {
	if ctx == nil {
		return Token{}, nilContextError("CredentialSource.Token")
	}
	secrets := c.secrets
	if c.assertions {
		seen := new(mintAssertions)
		ctx = context.WithValue(ctx, mintAssertionsKey{}, seen)
		secrets = bothSecrets(c.secrets, seen.all)
	}
	tk, err := c.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{c.scope}})
	if err != nil {
		// azidentity's own text may hold the token endpoint's response
		// body (an echoed assertion or secret, the token itself).
		return Token{}, redactCredentialError("idpool: getting an Entra token for "+c.scope, err, secrets, c.onBehalfOf)
	}
	if tk.Token == "" {
		return Token{}, fmt.Errorf("idpool: the credential returned an empty token for %s", c.scope)
	}
	return tokenOf(tk), nil
}

// tokenOf is an azidentity token as a Token. It expires no later than its
// own exp claim says: azidentity's ExpiresOn is computed from the
// response's expires_in, and a huge one wraps around to any date; the
// server goes by the token.
func tokenOf(tk azcore.AccessToken) Token {
	exp := tk.ExpiresOn
	if claimed, ok := claimExpiry(tk.Token); ok && (exp.IsZero() || claimed.Before(exp)) {
		exp = claimed
	}
	return Token{Value: tk.Token, ExpiresOn: exp}
}

// CredentialIdentity builds an identity over any credential whose principal
// the caller knows, keyed by discriminator, which must lie in the kind's own
// domain (for example "sp:<tenant>/<client id>" for a KindServicePrincipal
// WorkloadIdentityCredential; see New). Prefer the typed constructors.
func CredentialIdentity(kind Kind, discriminator string, cred azcore.TokenCredential, opts ...CredentialOption) (Identity, error) {
	if isNil(cred) {
		return Identity{}, nilError("credential", cred)
	}
	id := New(kind, discriminator, CredentialSource(cred, opts...))
	if err := id.Validate(); err != nil {
		return Identity{}, err
	}
	return id, nil
}

// TokenKeyedCredentialIdentity builds an identity over a credential whose
// principal is only known from its tokens (a chain, a CLI login): the first
// Discriminator call mints a token and keys the identity by the hash of that
// whole token (see NewTokenKeyed).
func TokenKeyedCredentialIdentity(kind Kind, cred azcore.TokenCredential, opts ...CredentialOption) (Identity, error) {
	if isNil(cred) {
		return Identity{}, nilError("credential", cred)
	}
	id := NewTokenKeyed(kind, CredentialSource(cred, opts...))
	if err := id.Validate(); err != nil {
		return Identity{}, err
	}
	return id, nil
}
