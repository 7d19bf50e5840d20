package tokens

import (
	"errors"
	"fmt"
	"strings"

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
		return Identity{}, errors.New("idpool: options name a user-assigned identity; use UserAssignedIdentity")
	}
	cred, err := azidentity.NewManagedIdentityCredential(&cp)
	if err != nil {
		return Identity{}, fmt.Errorf("idpool: system-assigned managed identity: %w", err)
	}
	return New(KindManagedIdentity, DiscriminatorSystemAssigned, CredentialSource(cred, opts...)), nil
}

// UserAssignedIdentity is a user-assigned managed identity named by id:
// azidentity.ClientID("…") keys it "msi:<client id>" (lower case);
// azidentity.ObjectID keys it "msi:object:<id>" and azidentity.ResourceID
// "msi:resource:<id>" (one identity named two ways gets two pools, never a
// shared one). o may be nil; if o.ID is set it must equal id.
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
		return Identity{}, errors.New("idpool: options name another managed identity")
	}
	cp.ID = id
	cred, err := azidentity.NewManagedIdentityCredential(&cp)
	if err != nil {
		return Identity{}, fmt.Errorf("idpool: user-assigned managed identity: %w", err)
	}
	return New(KindManagedIdentity, disc, CredentialSource(cred, opts...)), nil
}

func userAssignedDiscriminator(id azidentity.ManagedIDKind) (string, error) {
	var disc, v string
	switch id := id.(type) {
	case azidentity.ClientID:
		v = string(id)
		disc = "msi:" + strings.ToLower(v)
	case azidentity.ObjectID:
		v = string(id)
		disc = "msi:object:" + strings.ToLower(v)
	case azidentity.ResourceID:
		v = string(id)
		disc = "msi:resource:" + strings.ToLower(v)
	default:
		return "", errors.New("idpool: a user-assigned identity needs a ClientID, ObjectID or ResourceID")
	}
	if err := checkPart("managed identity id", v); err != nil {
		return "", err
	}
	// "system", "object:…" and "resource:…" would collide with the other forms.
	if _, isClient := id.(azidentity.ClientID); isClient && (strings.ContainsRune(v, ':') || strings.EqualFold(v, "system")) {
		return "", errors.New("idpool: a managed identity client id is a GUID, not a name with ':' or \"system\"")
	}
	return disc, nil
}
