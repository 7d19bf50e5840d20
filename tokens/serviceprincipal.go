package tokens

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"slices"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// ClientSecretIdentity is an app registration that authenticates with a
// client secret, keyed "sp:<tenant>/<client id>". o may be nil.
func ClientSecretIdentity(tenantID, clientID, secret string, o *azidentity.ClientSecretCredentialOptions, opts ...CredentialOption) (Identity, error) {
	disc, err := servicePrincipalDiscriminator(tenantID, clientID)
	if err != nil {
		return Identity{}, err
	}
	if secret == "" {
		return Identity{}, fmt.Errorf("%w: empty client secret", ErrInvalidIdentity)
	}
	cred, err := azidentity.NewClientSecretCredential(tenantID, clientID, secret, o)
	if err != nil {
		return Identity{}, fmt.Errorf("idpool: client secret credential: %w", err)
	}
	// The source knows the secret (a closure over this call's own
	// variable), so that a token endpoint's echo of it is taken out of
	// the credential's errors however it is written.
	src := credentialSourceHolding(cred, func(yield func(string) bool) { yield(secret) }, false, opts)
	return withSource(KindServicePrincipal, disc, src), nil
}

// ClientCertificateIdentity is an app registration that authenticates with
// a certificate, keyed "sp:<tenant>/<client id>". o may be nil.
func ClientCertificateIdentity(tenantID, clientID string, certs []*x509.Certificate, key crypto.PrivateKey, o *azidentity.ClientCertificateCredentialOptions, opts ...CredentialOption) (Identity, error) {
	disc, err := servicePrincipalDiscriminator(tenantID, clientID)
	if err != nil {
		return Identity{}, err
	}
	if len(certs) == 0 || slices.Contains(certs, nil) {
		return Identity{}, fmt.Errorf("%w: no certificate, or a nil one", ErrInvalidIdentity)
	}
	if key == nil {
		return Identity{}, fmt.Errorf("%w: nil private key", ErrInvalidIdentity)
	}
	cred, err := azidentity.NewClientCertificateCredential(tenantID, clientID, certs, key, o)
	if err != nil {
		return Identity{}, fmt.Errorf("idpool: client certificate credential: %w", err)
	}
	return withSource(KindServicePrincipal, disc, CredentialSource(cred, opts...)), nil
}

// ClientAssertionIdentity is an app registration that authenticates with an
// assertion getAssertion returns (workload identity federation, a
// certificate held elsewhere), keyed "sp:<tenant>/<client id>". o may be nil.
func ClientAssertionIdentity(tenantID, clientID string, getAssertion func(context.Context) (string, error), o *azidentity.ClientAssertionCredentialOptions, opts ...CredentialOption) (Identity, error) {
	disc, err := servicePrincipalDiscriminator(tenantID, clientID)
	if err != nil {
		return Identity{}, err
	}
	if getAssertion == nil {
		return Identity{}, fmt.Errorf("%w: nil assertion function", ErrInvalidIdentity)
	}
	// Each mint records the assertions getAssertion returned, and its
	// error is redacted of them (an endpoint may echo the assertion).
	cred, err := azidentity.NewClientAssertionCredential(tenantID, clientID, recordingAssertions(getAssertion), o)
	if err != nil {
		return Identity{}, fmt.Errorf("idpool: client assertion credential: %w", err)
	}
	return withSource(KindServicePrincipal, disc, credentialSourceHolding(cred, nil, true, opts)), nil
}
