package tokens_test

import (
	"context"
	"sync"
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

// ctxCountingCred counts its mints and reads ctx, as azidentity's
// credentials do, so that a nil ctx that reaches it panics.
type ctxCountingCred struct{ calls atomic.Int32 }

func (c *ctxCountingCred) GetToken(ctx context.Context, _ policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.calls.Add(1)
	if err := ctx.Err(); err != nil {
		return azcore.AccessToken{}, err
	}
	return azcore.AccessToken{Token: "opaque-nilsource", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// nilSourceSubject is a Source as a caller reaches it, with what it has
// minted so far and what a working call returns.
type nilSourceSubject struct {
	src   tokens.Source
	mints func() int
	// perCall is how many mints one real call adds: 0 for a token handed
	// in, 1 otherwise (the first call of a caching credential, or every
	// call of a function).
	perCall int
	// refused is the error a working call of a refused identity's source
	// matches; nil for every other source.
	refused error
}

// nilSourceSubjects builds, per exported constructor of a Source, a fresh
// one: a table test calls each with a nil ctx and then uses it.
func nilSourceSubjects() map[string]func(t *testing.T) nilSourceSubject {
	counted := func() (tokens.SourceFunc, func() int) {
		var n atomic.Int32
		return func(ctx context.Context) (tokens.Token, error) {
			n.Add(1)
			if err := ctx.Err(); err != nil { // a source that honours ctx
				return tokens.Token{}, err
			}
			return tokens.Token{Value: "opaque-nilsource", ExpiresOn: time.Now().Add(time.Hour)}, nil
		}, func() int { return int(n.Load()) }
	}
	withID := func(t *testing.T, id tokens.Identity, err error, mints func() int) nilSourceSubject {
		t.Helper()
		require.NoError(t, err)
		return nilSourceSubject{src: id.Source(), mints: mints, perCall: 1}
	}
	return map[string]func(t *testing.T) nilSourceSubject{
		"CredentialSource": func(t *testing.T) nilSourceSubject {
			cred := &ctxCountingCred{}
			return nilSourceSubject{src: tokens.CredentialSource(cred), mints: func() int { return int(cred.calls.Load()) }, perCall: 1}
		},
		"CredentialSource(nil)": func(t *testing.T) nilSourceSubject {
			return nilSourceSubject{src: tokens.CredentialSource(nil), mints: func() int { return 0 }, refused: tokens.ErrInvalidIdentity}
		},
		"CredentialIdentity": func(t *testing.T) nilSourceSubject {
			cred := &ctxCountingCred{}
			id, err := tokens.CredentialIdentity(tokens.KindServicePrincipal, "sp:t/nilsource", cred)
			return withID(t, id, err, func() int { return int(cred.calls.Load()) })
		},
		"TokenKeyedCredentialIdentity": func(t *testing.T) nilSourceSubject {
			cred := &ctxCountingCred{}
			id, err := tokens.TokenKeyedCredentialIdentity(tokens.KindDefaultCredential, cred)
			return withID(t, id, err, func() int { return int(cred.calls.Load()) })
		},
		"ClientSecretIdentity": func(t *testing.T) nilSourceSubject {
			s := startEntra(t)
			s.RegisterApp(tenant, "app-nil", "pw-nil", "oid-app-nil")
			id, err := tokens.ClientSecretIdentity(tenant, "app-nil", "pw-nil",
				&azidentity.ClientSecretCredentialOptions{ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true})
			return withID(t, id, err, func() int { return s.Issued("app-nil") })
		},
		"ClientAssertionIdentity": func(t *testing.T) nilSourceSubject {
			s := startEntra(t)
			s.RegisterFederatedApp(tenant, "app-fed-nil", "repo:idpool:nil", "oid-fed-nil")
			id, err := tokens.ClientAssertionIdentity(tenant, "app-fed-nil",
				func(context.Context) (string, error) { return s.FederatedAssertion("repo:idpool:nil"), nil },
				&azidentity.ClientAssertionCredentialOptions{ClientOptions: s.ClientOptions(), DisableInstanceDiscovery: true})
			return withID(t, id, err, func() int { return s.Issued("app-fed-nil") })
		},
		"OnBehalfOf.Identity": func(t *testing.T) nilSourceSubject {
			s := startEntra(t)
			app := oboApps(t, s)["api-fed"]
			assertion, err := s.UserToken(oboUser, "api-fed", time.Hour)
			require.NoError(t, err)
			id, err := app.Identity(tokens.Principal{TenantID: tenant, ObjectID: oboOID}, assertion)
			return withID(t, id, err, s.Exchanges)
		},
		"SourceFunc": func(t *testing.T) nilSourceSubject {
			f, mints := counted()
			return nilSourceSubject{src: f, mints: mints, perCall: 1}
		},
		"New": func(t *testing.T) nilSourceSubject {
			f, mints := counted()
			id := tokens.New(tokens.KindServicePrincipal, "sp:t/nilsource-new", f)
			return withID(t, id, id.Validate(), mints)
		},
		"NewTokenKeyed": func(t *testing.T) nilSourceSubject {
			f, mints := counted()
			id := tokens.NewTokenKeyed(tokens.KindProvidedToken, f)
			return withID(t, id, id.Validate(), mints)
		},
		"TokenFuncIdentity": func(t *testing.T) nilSourceSubject {
			f, mints := counted()
			id, err := tokens.TokenFuncIdentity(f)
			return withID(t, id, err, mints)
		},
		"VouchedTokenIdentity": func(t *testing.T) nilSourceSubject {
			f, mints := counted()
			id, err := tokens.VouchedTokenIdentity(tokens.Principal{TenantID: tenant, ObjectID: "oid-nilsource"}, f)
			return withID(t, id, err, mints)
		},
		"StaticTokenIdentity": func(t *testing.T) nilSourceSubject {
			id, err := tokens.StaticTokenIdentity("opaque-static-nilsource", time.Now().Add(time.Hour))
			require.NoError(t, err)
			return nilSourceSubject{src: id.Source(), mints: func() int { return 0 }}
		},
	}
}

// callSource calls src.Token, turning a panic into a test failure, so that
// one source's panic does not hide the others'.
func callSource(t *testing.T, src tokens.Source, ctx context.Context) (tok tokens.Token, err error) {
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("Token panicked instead of refusing the nil ctx: %v", r)
		}
	}()
	return src.Token(ctx)
}

// usableAfter checks that a real call of s works (or, for a refused
// identity, fails for its own reason) and that mints have gone from before
// by s.perCall.
func usableAfter(t *testing.T, s nilSourceSubject, before int) {
	t.Helper()
	tok, err := callSource(t, s.src, testCtx(t))
	if s.refused != nil {
		require.ErrorIs(t, err, s.refused)
		assert.NotErrorIs(t, err, tokens.ErrNilContext)
		return
	}
	require.NoError(t, err)
	assert.False(t, tok.IsZero())
	assert.Equal(t, before+s.perCall, s.mints(), "the real ctx's call minted as usual")
}

// TestEverySourceRefusesANilContextFirst: a caller of id.Source().Token (or
// of CredentialSource, SourceFunc) gave it a nil ctx. The azidentity
// credential source of a client-assertion or on-behalf-of identity panicked
// in context.WithValue; the others handed the nil ctx to azidentity (a
// request failing with net/http's "nil Context", worded as a failed mint)
// or to the caller's own function, which minted with it. Each now refuses
// first, with an error matching ErrNilContext (manager.ErrNilContext, the
// same value) that names the call, having minted nothing, and the same
// source mints as usual with a real ctx afterwards.
func TestEverySourceRefusesANilContextFirst(t *testing.T) {
	for name, build := range nilSourceSubjects() {
		t.Run(name, func(t *testing.T) {
			s := build(t)
			before := s.mints()
			_, err := callSource(t, s.src, nil)
			require.ErrorIs(t, err, tokens.ErrNilContext)
			require.ErrorIs(t, err, manager.ErrNilContext)
			assert.Contains(t, err.Error(), ".Token: nil Context", "the error names the call")
			assert.Equal(t, before, s.mints(), "nothing was minted for the nil ctx")
			usableAfter(t, s, before)
		})
	}
}

// TestEverySourceRefusesANilContextAmongRealOnes: several goroutines share
// one source, some with a nil ctx and some with a real one; the nil ones are
// refused, the real ones get their token (no mint left in flight, no cache
// poisoned by a refused call), and a call afterwards still works.
func TestEverySourceRefusesANilContextAmongRealOnes(t *testing.T) {
	const callers = 8
	for name, build := range nilSourceSubjects() {
		t.Run(name, func(t *testing.T) {
			s := build(t)
			ctx := testCtx(t)
			start := make(chan struct{})
			errs := make([]error, callers)
			var wg sync.WaitGroup
			for i := range callers {
				wg.Go(func() {
					<-start
					if i%2 == 0 {
						_, errs[i] = callSource(t, s.src, nil)
						return
					}
					_, errs[i] = callSource(t, s.src, ctx)
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				switch {
				case i%2 == 0:
					assert.ErrorIs(t, err, tokens.ErrNilContext, "caller %d (nil ctx)", i)
				case s.refused != nil:
					assert.ErrorIs(t, err, s.refused, "caller %d", i)
				default:
					assert.NoError(t, err, "caller %d (real ctx)", i)
				}
			}
			assert.LessOrEqual(t, s.mints(), callers/2*s.perCall, "only the real callers minted")
			_, err := callSource(t, s.src, testCtx(t))
			if s.refused != nil {
				assert.ErrorIs(t, err, s.refused)
			} else {
				assert.NoError(t, err, "the source still works")
			}
		})
	}
}
