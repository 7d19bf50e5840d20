package tokens

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// servicePrincipalDiscriminator is "sp:<tenant>/<client id>", lower case
// (both are case-insensitive GUIDs or domain names in Entra).
func servicePrincipalDiscriminator(tenantID, clientID string) (string, error) {
	if err := checkPart("tenant id", tenantID); err != nil {
		return "", err
	}
	if err := checkPart("client id", clientID); err != nil {
		return "", err
	}
	// The first "/" splits tenant from client id, so a tenant must have none.
	if strings.ContainsRune(tenantID, '/') {
		return "", errors.New("idpool: tenant id contains '/'")
	}
	return "sp:" + strings.ToLower(tenantID) + "/" + strings.ToLower(clientID), nil
}

// ClientSecretIdentity is an app registration that authenticates with a
// client secret, keyed "sp:<tenant>/<client id>". o may be nil.
func ClientSecretIdentity(tenantID, clientID, secret string, o *azidentity.ClientSecretCredentialOptions, opts ...CredentialOption) (Identity, error) {
	disc, err := servicePrincipalDiscriminator(tenantID, clientID)
	if err != nil {
		return Identity{}, err
	}
	cred, err := azidentity.NewClientSecretCredential(tenantID, clientID, secret, o)
	if err != nil {
		return Identity{}, fmt.Errorf("idpool: client secret credential: %w", err)
	}
	return New(KindServicePrincipal, disc, CredentialSource(cred, opts...)), nil
}

// ClientCertificateIdentity is an app registration that authenticates with
// a certificate, keyed "sp:<tenant>/<client id>". o may be nil.
func ClientCertificateIdentity(tenantID, clientID string, certs []*x509.Certificate, key crypto.PrivateKey, o *azidentity.ClientCertificateCredentialOptions, opts ...CredentialOption) (Identity, error) {
	disc, err := servicePrincipalDiscriminator(tenantID, clientID)
	if err != nil {
		return Identity{}, err
	}
	cred, err := azidentity.NewClientCertificateCredential(tenantID, clientID, certs, key, o)
	if err != nil {
		return Identity{}, fmt.Errorf("idpool: client certificate credential: %w", err)
	}
	return New(KindServicePrincipal, disc, CredentialSource(cred, opts...)), nil
}

// ClientAssertionIdentity is an app registration that authenticates with an
// assertion getAssertion returns (workload identity federation, a
// certificate held elsewhere), keyed "sp:<tenant>/<client id>". o may be nil.
func ClientAssertionIdentity(tenantID, clientID string, getAssertion func(context.Context) (string, error), o *azidentity.ClientAssertionCredentialOptions, opts ...CredentialOption) (Identity, error) {
	disc, err := servicePrincipalDiscriminator(tenantID, clientID)
	if err != nil {
		return Identity{}, err
	}
	cred, err := azidentity.NewClientAssertionCredential(tenantID, clientID, getAssertion, o)
	if err != nil {
		return Identity{}, fmt.Errorf("idpool: client assertion credential: %w", err)
	}
	return New(KindServicePrincipal, disc, CredentialSource(cred, opts...)), nil
}
