package tokens_test

import (
	"context"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// TestAConstructorsNilResultIsRefusedByName: cred, _ :=
// azidentity.NewManagedIdentityCredential(...) kept after an error is a nil
// *ManagedIdentityCredential in a non-nil interface. It passed for a
// credential, and the first mint panicked inside the pool ("token source
// panicked: ... nil pointer dereference"). Each constructor now refuses it
// with ErrInvalidIdentity naming the type.
func TestAConstructorsNilResultIsRefusedByName(t *testing.T) {
	var cred *azidentity.ManagedIdentityCredential
	var user *azidentity.DeviceCodeCredential
	var src tokens.SourceFunc
	ctx := context.Background()

	_, err := tokens.CredentialIdentity(tokens.KindManagedIdentity, "msi:system", cred)
	requireNamed(t, err, "*azidentity.ManagedIdentityCredential")
	_, err = tokens.TokenKeyedCredentialIdentity(tokens.KindDefaultCredential, cred)
	requireNamed(t, err, "*azidentity.ManagedIdentityCredential")
	_, err = tokens.NewAccount(user, azidentity.AuthenticationRecord{})
	requireNamed(t, err, "*azidentity.DeviceCodeCredential")
	requireNamed(t, tokens.New(tokens.KindProvidedToken, "myapp:u", src).Validate(), "tokens.SourceFunc")
	requireNamed(t, tokens.NewTokenKeyed(tokens.KindProvidedToken, src).Validate(), "tokens.SourceFunc")
	_, err = tokens.VouchedTokenIdentity(tokens.Principal{TenantID: "t", ObjectID: "o"}, src)
	requireNamed(t, err, "tokens.SourceFunc")
	// CredentialSource returns no error: its source says why at each mint.
	_, err = tokens.CredentialSource(cred).Token(ctx)
	requireNamed(t, err, "*azidentity.ManagedIdentityCredential")
	// An untyped nil still gets the short message.
	_, err = tokens.CredentialIdentity(tokens.KindManagedIdentity, "msi:system", nil)
	require.ErrorIs(t, err, tokens.ErrInvalidIdentity)
	assert.Contains(t, err.Error(), "nil credential")
}

func requireNamed(t *testing.T, err error, typ string) {
	t.Helper()
	require.ErrorIs(t, err, tokens.ErrInvalidIdentity)
	assert.Contains(t, err.Error(), "a nil "+typ)
}
