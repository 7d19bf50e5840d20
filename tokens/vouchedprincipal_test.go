package tokens_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// VouchedPrincipal names the principal of the identities whose key names
// one (vouched, on-behalf-of) and no other; Same compares principals as
// keys do.
func TestVouchedPrincipalAndSame(t *testing.T) {
	alice := tokens.Principal{TenantID: "Contoso", ObjectID: "Alice"}
	never := tokens.SourceFunc(func(context.Context) (tokens.Token, error) { return tokens.Token{}, errors.New("never") })
	vouched, err := tokens.VouchedTokenIdentity(alice, never)
	require.NoError(t, err)
	app, err := tokens.NewOnBehalfOfSecret("contoso", "api", "secret", nil)
	require.NoError(t, err)
	obo, err := app.Identity(alice, "assertion")
	require.NoError(t, err)
	for name, id := range map[string]tokens.Identity{"vouched": vouched, "on-behalf-of": obo} {
		p, ok := id.VouchedPrincipal()
		assert.True(t, ok, name)
		assert.Equal(t, alice, p, name)
	}
	static, err := tokens.StaticTokenIdentity("a-token", time.Now().Add(time.Hour))
	require.NoError(t, err)
	for name, id := range map[string]tokens.Identity{"zero": {}, "SQL login": tokens.SQLLogin(), "handed-in token": static} {
		_, ok := id.VouchedPrincipal()
		assert.False(t, ok, name)
	}

	assert.True(t, alice.Same(tokens.Principal{TenantID: "contoso", ObjectID: "ALICE"}), "ids fold to lower case")
	assert.False(t, alice.Same(tokens.Principal{TenantID: "contoso", ObjectID: "bob"}))
	assert.False(t, alice.Same(tokens.Principal{TenantID: "fabrikam", ObjectID: "alice"}))
	assert.False(t, tokens.Principal{}.Same(tokens.Principal{}), "no key holds the empty principal")
	assert.False(t, tokens.Principal{TenantID: "a/b", ObjectID: "c"}.Same(tokens.Principal{TenantID: "a", ObjectID: "b/c"}),
		"ids are escaped before they are compared")
}
