package tokens

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// OnBehalfOf is a middle-tier app (a web API) that queries the database as
// its calling users: it exchanges each user's bearer token for a database
// token with Entra's on-behalf-of grant (azidentity's OnBehalfOfCredential).
// Build one per app with NewOnBehalfOfSecret, NewOnBehalfOfCertificate or
// NewOnBehalfOfAssertion, then one Identity per user (or per request) with
// Identity. It is safe for concurrent use, and it prints redacted: the app's
// secret lives in a closure, never in a field.
type OnBehalfOf struct {
	tenantID, clientID string
	// newCred builds the credential for one user assertion.
	newCred func(userAssertion string) (azcore.TokenCredential, error)
	// appSecret yields the app's client secret (NewOnBehalfOfSecret's; nil
	// for the others), to be taken out of its credentials' errors. A
	// closure, as newCred's, so the secret is in no field fmt prints.
	appSecret knownSecrets
	// assertions is set when newCred's credentials call the app's
	// assertion function through recordingAssertions.
	assertions bool
	opts       []CredentialOption
}

// NewOnBehalfOfSecret is a middle-tier app that authenticates with a client
// secret. o may be nil.
func NewOnBehalfOfSecret(tenantID, clientID, secret string, o *azidentity.OnBehalfOfCredentialOptions, opts ...CredentialOption) (*OnBehalfOf, error) {
	if secret == "" {
		return nil, fmt.Errorf("%w: empty client secret", ErrInvalidIdentity)
	}
	app, err := newOnBehalfOf(tenantID, clientID, opts, func(a string) (azcore.TokenCredential, error) {
		return azidentity.NewOnBehalfOfCredentialWithSecret(tenantID, clientID, a, secret, o)
	})
	if err != nil {
		return nil, err
	}
	app.appSecret = func(yield func(string) bool) { yield(secret) }
	return app, nil
}

// NewOnBehalfOfCertificate is a middle-tier app that authenticates with a
// certificate. o may be nil.
func NewOnBehalfOfCertificate(tenantID, clientID string, certs []*x509.Certificate, key crypto.PrivateKey, o *azidentity.OnBehalfOfCredentialOptions, opts ...CredentialOption) (*OnBehalfOf, error) {
	if len(certs) == 0 || slices.Contains(certs, nil) {
		return nil, fmt.Errorf("%w: no certificate, or a nil one", ErrInvalidIdentity)
	}
	if key == nil {
		return nil, fmt.Errorf("%w: nil private key", ErrInvalidIdentity)
	}
	return newOnBehalfOf(tenantID, clientID, opts, func(a string) (azcore.TokenCredential, error) {
		return azidentity.NewOnBehalfOfCredentialWithCertificate(tenantID, clientID, a, certs, key, o)
	})
}

// NewOnBehalfOfAssertion is a middle-tier app that authenticates with an
// assertion getAssertion returns (workload identity federation, a key held
// elsewhere). o may be nil.
func NewOnBehalfOfAssertion(tenantID, clientID string, getAssertion func(context.Context) (string, error), o *azidentity.OnBehalfOfCredentialOptions, opts ...CredentialOption) (*OnBehalfOf, error) {
	if getAssertion == nil {
		return nil, fmt.Errorf("%w: nil assertion function", ErrInvalidIdentity)
	}
	getAssertion = recordingAssertions(getAssertion)
	app, err := newOnBehalfOf(tenantID, clientID, opts, func(a string) (azcore.TokenCredential, error) {
		return azidentity.NewOnBehalfOfCredentialWithClientAssertions(tenantID, clientID, a, getAssertion, o)
	})
	if err != nil {
		return nil, err
	}
	app.assertions = true
	return app, nil
}

func newOnBehalfOf(tenantID, clientID string, opts []CredentialOption, newCred func(string) (azcore.TokenCredential, error)) (*OnBehalfOf, error) {
	if _, err := servicePrincipalDiscriminator(tenantID, clientID); err != nil {
		return nil, err
	}
	return &OnBehalfOf{tenantID: tenantID, clientID: clientID, newCred: newCred, opts: opts}, nil
}

// Identity is user on whose behalf the app acts, keyed
// "obo:<user's tenant>/<user's object id>": every token of that user (a
// renewed one, one from another request) shares one pool, and since the key
// comes from user, building it costs no token exchange. userAssertion is the
// user's bearer token, exchanged only when the pool opens a connection.
//
// You verified userAssertion (signature, issuer, audience, expiry, for
// example in your auth middleware; see idpoolhttp) and took user from its
// verified tid and oid claims: idpool verifies nothing. As a last check, a
// database token whose (unverified) tid or oid names another principal than
// user is refused, as VouchedTokenIdentity does.
//
// Each call makes a new credential, which the user's pool adopts on its next
// acquire (the newest credential wins, see Identity): a renewed assertion is
// used from then on, and a mint that failed with the old, expired one is
// retried with it. Building the credential costs no network call, but it
// does cost allocations and a fresh token cache: reuse the Identity of an
// assertion you have seen (onbehalf.Cache does, per principal).
func (a *OnBehalfOf) Identity(user Principal, userAssertion string) (Identity, error) {
	if a == nil {
		return Identity{}, fmt.Errorf("%w: nil *tokens.OnBehalfOf", ErrInvalidIdentity)
	}
	if a.newCred == nil {
		// new(OnBehalfOf) has no app to act as: without this check its
		// first request panicked on the nil constructor.
		return Identity{}, fmt.Errorf("%w: the zero tokens.OnBehalfOf; use NewOnBehalfOfSecret, NewOnBehalfOfCertificate or NewOnBehalfOfAssertion", ErrInvalidIdentity)
	}
	disc, err := oboDiscriminator(user.TenantID, user.ObjectID)
	if err != nil {
		return Identity{}, err
	}
	if userAssertion == "" {
		return Identity{}, fmt.Errorf("%w: empty user assertion", ErrInvalidIdentity)
	}
	cred, err := a.newCred(userAssertion)
	if err != nil {
		// azidentity's constructor errors name options, never the assertion.
		return Identity{}, fmt.Errorf("idpool: on-behalf-of credential: %w", err)
	}
	// The user's assertion and the app's secret are taken out of the
	// credential's errors: an endpoint may echo either.
	appSecret := a.appSecret
	secrets := func(yield func(string) bool) {
		if yield(userAssertion) && appSecret != nil {
			appSecret(yield)
		}
	}
	cs := credentialSourceHolding(cred, secrets, a.assertions, a.opts)
	cs.onBehalfOf = true // a refusal's claims challenge is the user's to satisfy
	src := &vouchedSource{p: user, src: cs}
	return withSource(KindOnBehalfOf, disc, src), nil
}

// String names the app by a short hash of its tenant and client id, never
// its secret.
func (a OnBehalfOf) String() string {
	if a.newCred == nil {
		return "on-behalf-of(zero)" // not "sql-login", which the empty key prints as
	}
	disc, _ := servicePrincipalDiscriminator(a.tenantID, a.clientID)
	return "on-behalf-of(" + Key(keySeparator + disc).Redacted()[1:] + ")"
}

// GoString keeps %#v as safe as %v.
func (a OnBehalfOf) GoString() string { return a.String() }

// Format prints the redacted String form for every verb.
func (a OnBehalfOf) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(a.String())) }

// LogValue implements slog.LogValuer with the redacted form.
func (a OnBehalfOf) LogValue() slog.Value { return slog.StringValue(a.String()) }

// MarshalJSON writes the redacted form.
func (a OnBehalfOf) MarshalJSON() ([]byte, error) { return json.Marshal(a.String()) }

// MarshalText writes the redacted form.
func (a OnBehalfOf) MarshalText() ([]byte, error) { return []byte(a.String()), nil }
