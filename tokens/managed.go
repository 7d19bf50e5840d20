package tokens

import (
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// DiscriminatorSystemAssigned keys the system-assigned managed identity.
const DiscriminatorSystemAssigned = "msi:system"

// SystemAssignedIdentity is the host's system-assigned managed identity,
// keyed "msi:system". o may be nil; o.ID must be unset.
//
// MSAL caches managed-identity tokens per process, shared by all credential
// instances, so building this twice costs nothing extra.
func SystemAssignedIdentity(o *azidentity.ManagedIdentityCredentialOptions, opts ...CredentialOption) (Identity, error) {
	var cp azidentity.ManagedIdentityCredentialOptions
	if o != nil {
		cp = *o
	}
	if cp.ID != nil {
		return Identity{}, fmt.Errorf("%w: options name a user-assigned identity; use UserAssignedIdentity", ErrInvalidIdentity)
	}
	cred, err := azidentity.NewManagedIdentityCredential(&cp)
	if err != nil {
		return Identity{}, fmt.Errorf("idpool: system-assigned managed identity: %w", err)
	}
	return withSource(KindManagedIdentity, DiscriminatorSystemAssigned, CredentialSource(cred, opts...)), nil
}

// UserAssignedIdentity is a user-assigned managed identity named by id:
// azidentity.ClientID("…") keys it "msi:<client id>"; azidentity.ObjectID
// keys it "msi:object:<id>" and azidentity.ResourceID "msi:resource:<id>"
// (ids in lower case, with ':', '/' and '%' escaped; one identity named two
// ways gets two pools, never a shared one). o may be nil; if o.ID is set it
// must equal id.
func UserAssignedIdentity(id azidentity.ManagedIDKind, o *azidentity.ManagedIdentityCredentialOptions, opts ...CredentialOption) (Identity, error) {
	disc, err := userAssignedDiscriminator(id)
	if err != nil {
		return Identity{}, err
	}
	var cp azidentity.ManagedIdentityCredentialOptions
	if o != nil {
		cp = *o
	}
	if cp.ID != nil && cp.ID != id {
		return Identity{}, fmt.Errorf("%w: options name another managed identity", ErrInvalidIdentity)
	}
	cp.ID = id
	cred, err := azidentity.NewManagedIdentityCredential(&cp)
	if err != nil {
		return Identity{}, fmt.Errorf("idpool: user-assigned managed identity: %w", err)
	}
	return withSource(KindManagedIdentity, disc, CredentialSource(cred, opts...)), nil
}

func userAssignedDiscriminator(id azidentity.ManagedIDKind) (string, error) {
	switch id := id.(type) {
	case azidentity.ClientID:
		return managedClientDiscriminator(string(id))
	case azidentity.ObjectID:
		return managedObjectDiscriminator(string(id))
	case azidentity.ResourceID:
		return managedResourceDiscriminator(string(id))
	}
	return "", fmt.Errorf("%w: a user-assigned identity needs a ClientID, ObjectID or ResourceID", ErrInvalidIdentity)
}
