package tokens

import (
	"fmt"
	"os"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// WorkloadIdentity is an AKS workload identity: a federated app
// registration (or user-assigned managed identity) whose pod holds a
// Kubernetes service-account token, keyed "sp:<tenant>/<client id>" with no
// mint. The tenant and client id come from o, or else from AZURE_TENANT_ID and
// AZURE_CLIENT_ID (which the AKS webhook sets), as azidentity reads them; the
// token file from o or AZURE_FEDERATED_TOKEN_FILE. o may be nil.
func WorkloadIdentity(o *azidentity.WorkloadIdentityCredentialOptions, opts ...CredentialOption) (Identity, error) {
	var cp azidentity.WorkloadIdentityCredentialOptions
	if o != nil {
		cp = *o
	}
	if cp.TenantID == "" {
		cp.TenantID = os.Getenv("AZURE_TENANT_ID")
	}
	if cp.ClientID == "" {
		cp.ClientID = os.Getenv("AZURE_CLIENT_ID")
	}
	disc, err := servicePrincipalDiscriminator(cp.TenantID, cp.ClientID)
	if err != nil {
		return Identity{}, fmt.Errorf("%w (set it in the options or AZURE_TENANT_ID / AZURE_CLIENT_ID)", err)
	}
	cred, err := azidentity.NewWorkloadIdentityCredential(&cp)
	if err != nil {
		return Identity{}, fmt.Errorf("idpool: workload identity credential: %w", err)
	}
	return withSource(KindServicePrincipal, disc, CredentialSource(cred, opts...)), nil
}

// AzureCLIIdentity is whoever is signed in to the Azure CLI (az login), for
// local development. o may be nil.
//
// Which principal that is cannot be known without a token, so the key is
// learned from the first one: the first acquire mints (runs `az account
// get-access-token`, typically 0.3-1 s; once per Identity value, single
// flight, bounded by the acquire's deadline and MintTimeout, counted in
// Stats) and keys the identity by
// the hash of that whole token ("acct:tok:<sha256>"). The CLI credential
// does not cache, so the pool's first connection runs az once more, and every
// physical open after that once. Build the identity once at startup.
//
// The tid and oid claims are read only to refuse a switch: the CLI is the
// local trusted user, but `az login` as someone else while the program runs
// would otherwise put that other principal's connections in the first one's
// pool. A token whose (unverified) tid or oid differs from the first JWT's,
// or is not a string, is refused (see NewTokenKeyed); build a new identity
// after switching accounts.
func AzureCLIIdentity(o *azidentity.AzureCLICredentialOptions, opts ...CredentialOption) (Identity, error) {
	cred, err := azidentity.NewAzureCLICredential(o)
	if err != nil {
		return Identity{}, fmt.Errorf("idpool: Azure CLI credential: %w", err)
	}
	return developerIdentity("Azure CLI", cred, opts), nil
}

// AzureDeveloperCLIIdentity is whoever is signed in to the Azure Developer
// CLI (azd auth login), keyed like AzureCLIIdentity and at the same cost
// (each mint runs `azd auth token`). o may be nil.
func AzureDeveloperCLIIdentity(o *azidentity.AzureDeveloperCLICredentialOptions, opts ...CredentialOption) (Identity, error) {
	cred, err := azidentity.NewAzureDeveloperCLICredential(o)
	if err != nil {
		return Identity{}, fmt.Errorf("idpool: Azure Developer CLI credential: %w", err)
	}
	return developerIdentity("Azure Developer CLI", cred, opts), nil
}

func developerIdentity(tool string, cred azcore.TokenCredential, opts []CredentialOption) Identity {
	return newTokenKeyed(KindUserAccount, CredentialSource(cred, opts...),
		fmt.Sprintf("idpool: the %s is now signed in as another principal than when this identity was built; build a new identity", tool))
}
