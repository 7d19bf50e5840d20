package tokens_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// countedCred counts the calls an Account makes to its credential, before
// they reach it, so a test can see that a refused call asked for nothing.
type countedCred struct {
	tokens.UserCredential
	calls atomic.Int32
}

func (c *countedCred) GetToken(ctx context.Context, tro policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.calls.Add(1)
	return c.UserCredential.GetToken(ctx, tro)
}

func (c *countedCred) Authenticate(ctx context.Context, tro *policy.TokenRequestOptions) (azidentity.AuthenticationRecord, error) {
	c.calls.Add(1)
	return c.UserCredential.Authenticate(ctx, tro)
}

// refusedWithoutPanic runs f, turning a panic into a test failure, so that
// one call's panic does not hide the others'.
func refusedWithoutPanic(t *testing.T, f func() error) (err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("panicked instead of refusing the nil ctx: %v", r)
		}
	}()
	return f()
}

// TestNilContextIsRefusedFirst: each call of tokens that takes a ctx and
// returns an error was given nil by a careless caller. A token-keyed
// identity's key lookup panicked with a bare nil pointer at its first look
// at ctx; an Account without a record began a sign-in that failed with
// net/http's "nil Context", worded as the user's failed sign-in; an identity
// whose key needs no lookup went on without complaint, so the mistake
// showed only with another identity. Each now refuses first
// with an error matching ErrNilContext (and manager.ErrNilContext, the same
// value) that names the call; nothing is minted or asked of the credential,
// and the identity or Account works as usual with a real ctx afterwards.
func TestNilContextIsRefusedFirst(t *testing.T) {
	type subject struct {
		call   func(ctx context.Context) error // the call under test
		asked  func() int32                    // token mints or credential calls so far
		usable func(t *testing.T)              // checks the subject still works
	}
	tokenKeyed := func(call func(tokens.Identity, context.Context) error) func(t *testing.T) subject {
		return func(t *testing.T) subject {
			var mints atomic.Int32
			id := tokens.NewTokenKeyed(tokens.KindProvidedToken, tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
				mints.Add(1)
				return tokens.Token{Value: "opaque-nilctx", ExpiresOn: time.Now().Add(time.Hour)}, nil
			}))
			return subject{
				call:  func(ctx context.Context) error { return call(id, ctx) },
				asked: mints.Load,
				usable: func(t *testing.T) {
					assert.False(t, id.KeyResolved(), "the refused call learned no key")
					d, err := id.Discriminator(testCtx(t))
					require.NoError(t, err)
					assert.Contains(t, d, "tok:")
					assert.EqualValues(t, 1, mints.Load(), "one mint, by the real ctx's call")
				},
			}
		}
	}
	sqlLogin := func(t *testing.T) subject {
		id := tokens.SQLLogin()
		return subject{
			call:  func(ctx context.Context) error { _, err := id.Discriminator(ctx); return err },
			asked: func() int32 { return 0 },
			usable: func(t *testing.T) {
				d, err := id.Discriminator(testCtx(t))
				require.NoError(t, err)
				assert.Equal(t, "sql-login", d)
			},
		}
	}
	account := func(call func(*tokens.Account, context.Context) error) func(t *testing.T) subject {
		return func(t *testing.T) subject {
			s := startEntra(t)
			s.RegisterUser(tenant, "nina@contoso.test", "oid-nina-nilctx")
			var prompts atomic.Int32
			o := deviceCodeOptions(s, "nina@contoso.test", &prompts)
			o.DisableAutomaticAuthentication = true
			dc, err := azidentity.NewDeviceCodeCredential(o)
			require.NoError(t, err)
			cred := &countedCred{UserCredential: dc}
			acct, err := tokens.NewAccount(cred, azidentity.AuthenticationRecord{})
			require.NoError(t, err)
			return subject{
				call:  func(ctx context.Context) error { return call(acct, ctx) },
				asked: func() int32 { return cred.calls.Load() + prompts.Load() },
				usable: func(t *testing.T) {
					_, ok := acct.Record()
					assert.False(t, ok, "the refused call signed nobody in")
					id, err := acct.Identity(testCtx(t))
					require.NoError(t, err)
					assert.Equal(t, tokens.KindUserAccount, id.Kind())
					_, err = acct.Token(testCtx(t))
					require.NoError(t, err)
					_, err = acct.Authenticate(testCtx(t))
					require.NoError(t, err)
					assert.EqualValues(t, 2, prompts.Load(), "the real ctx's sign-ins only")
				},
			}
		}
	}
	cases := []struct {
		name string // the call, as the error names it
		make func(t *testing.T) subject
	}{
		{"Identity.Discriminator", tokenKeyed(func(id tokens.Identity, ctx context.Context) error {
			_, err := id.Discriminator(ctx)
			return err
		})},
		{"Identity.Discriminator", sqlLogin},
		{"Identity.ResolveKey", tokenKeyed(func(id tokens.Identity, ctx context.Context) error {
			_, _, err := id.ResolveKey(ctx)
			return err
		})},
		{"Identity.ResolveKeyChecked", tokenKeyed(func(id tokens.Identity, ctx context.Context) error {
			_, _, err := id.ResolveKeyChecked(ctx, func(tokens.Token) error { return nil })
			return err
		})},
		{"Account.Identity", account(func(a *tokens.Account, ctx context.Context) error {
			_, err := a.Identity(ctx)
			return err
		})},
		{"Account.Authenticate", account(func(a *tokens.Account, ctx context.Context) error {
			_, err := a.Authenticate(ctx)
			return err
		})},
		{"Account.Token", account(func(a *tokens.Account, ctx context.Context) error {
			_, err := a.Token(ctx)
			return err
		})},
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("%d-%s", i, c.name), func(t *testing.T) {
			s := c.make(t)
			err := refusedWithoutPanic(t, func() error { return s.call(nil) })
			require.ErrorIs(t, err, tokens.ErrNilContext)
			require.ErrorIs(t, err, manager.ErrNilContext, "one sentinel for every idpool call")
			assert.Contains(t, err.Error(), "tokens."+c.name+": nil Context", "the error names the call")
			assert.Zero(t, s.asked(), "nothing minted or asked of the credential")
			s.usable(t)
		})
	}
}

// TestContextHelpersGivenNil: IdentityFrom(nil) is a lookup in a ctx that
// carries nothing, so it finds nothing (it panicked with a bare nil
// pointer); WithIdentity(nil, id) panics as context.WithValue does, the
// standard library's answer for a context derived from no parent.
func TestContextHelpersGivenNil(t *testing.T) {
	var ctx context.Context // nil, as a careless caller's
	var id tokens.Identity
	var ok bool
	require.NotPanics(t, func() { id, ok = tokens.IdentityFrom(ctx) })
	assert.False(t, ok)
	assert.Equal(t, tokens.Identity{}, id)

	assert.PanicsWithValue(t, "cannot create context from nil parent", func() { tokens.WithIdentity(ctx, tokens.SQLLogin()) })

	// With a real ctx both work as usual.
	got, ok := tokens.IdentityFrom(tokens.WithIdentity(testCtx(t), tokens.SQLLogin()))
	require.True(t, ok)
	assert.Equal(t, tokens.KindSQLLogin, got.Kind())
}
