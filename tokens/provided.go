package tokens

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// DefaultCredentialIdentity is azidentity's DefaultAzureCredential chain.
// Which principal it ends up as is only known from a token, so it is keyed by
// the hash of the first token it mints ("dac:<sha256 hex>", see
// NewTokenKeyed): build it once and reuse it. o may be nil.
func DefaultCredentialIdentity(o *azidentity.DefaultAzureCredentialOptions, opts ...CredentialOption) (Identity, error) {
	cred, err := azidentity.NewDefaultAzureCredential(o)
	if err != nil {
		return Identity{}, fmt.Errorf("idpool: default Azure credential: %w", err)
	}
	return NewTokenKeyed(KindDefaultCredential, CredentialSource(cred, opts...)), nil
}

// TokenFuncIdentity wraps a caller's own token function (bring your own
// token). It is keyed by the hash of the first whole token f returns
// ("tok:<sha256 hex>"; the first Discriminator call mints it), never by the
// token's claims, which nobody verified: a token that claims someone else's
// tid and oid gets a pool of its own. When you did verify the token, use
// VouchedTokenIdentity so that all tokens of one principal share a pool.
//
// f must return tokens of one principal (renewals of its first): they all
// open connections in the first token's pool. A later token whose tid or oid
// claim differs from the first's is refused (see NewTokenKeyed), but a pool
// hit mints nothing, so never make one identity whose f returns each
// caller's own token (read from the mint's ctx, which carries the values of
// whichever acquire caused the mint): build one per token instead
// (StaticTokenIdentity, or VouchedTokenIdentity once you verified it).
//
// An error f returns together with a token has that token taken out of its
// text (in every form, see secretRedactor) before idpool reports or logs it;
// errors.As still reaches f's error.
func TokenFuncIdentity(f func(ctx context.Context) (Token, error)) (Identity, error) {
	if f == nil {
		return Identity{}, fmt.Errorf("%w: nil token function", ErrInvalidIdentity)
	}
	return NewTokenKeyed(KindProvidedToken, SourceFunc(func(ctx context.Context) (Token, error) {
		tok, err := f(ctx)
		if err != nil && tok.Value != "" {
			// A careless f returns the token it could not use with an
			// error that names it; idpool's errors and logs carry that
			// error on, so it is redacted of that token (a value f
			// returned, kept no longer than this call).
			redact := secretRedactor(func(yield func(string) bool) { yield(tok.Value) })
			return Token{}, &credentialError{msg: redact(err.Error()), err: err}
		}
		return tok, err
	})), nil
}

// StaticTokenIdentity wraps one token handed in, keyed "tok:<sha256 of the
// whole token>": only the holder of that exact token reaches its connections.
// When expiresOn is zero, or later than the token's exp claim, the exp
// claim is its expiry if the token is a JWT (not verified: only the server
// can do that), as for a credential's tokens (CredentialSource); a token
// without a known expiry counts as near expiry everywhere (fail closed).
//
// Once the token has expired (or when its expiry is unknown) the identity
// authenticates nothing: manager.Acquire, and so the facade and
// drivers/postgres, refuse it before its pool is looked up (see
// HandedInExpiry), even though that pool may hold connections that a
// TokenFuncIdentity whose first token it was opened with its newer tokens.
func StaticTokenIdentity(token string, expiresOn time.Time) (Identity, error) {
	if token == "" {
		return Identity{}, fmt.Errorf("%w: empty token", ErrInvalidIdentity)
	}
	if exp := jwtExpiry(token); !exp.IsZero() && (expiresOn.IsZero() || exp.Before(expiresOn)) {
		// The server goes by the token: a later expiresOn would have
		// the pool serve its connections to whoever presents the token
		// after the server stopped accepting it.
		expiresOn = exp
	}
	src := &handedInSource{tok: Token{Value: token, ExpiresOn: expiresOn}}
	id := withSource(KindProvidedToken, tokenDiscriminator(KindProvidedToken, token), src)
	id.cred.handedIn, id.cred.expires = true, expiresOn
	return id, nil
}

// jwtExpiry reads exp from a JWT without verifying it, or returns zero. It
// is claimExpiry, the one reader of a token's claims: a parser that refused
// an unknown alg read such a token's expiry as unknown, where the rest of
// the package reads its claims.
func jwtExpiry(token string) time.Time {
	exp, _ := claimExpiry(token)
	return exp
}

// handedInSource is the source of a StaticTokenIdentity. A pointer, so that
// an Identity over it compares (==) and hashes (a map key) as every other
// identity does: a func source (SourceFunc) made == panic. It prints
// redacted with every verb, by value and by pointer: fmt would print the
// fields of a struct behind a pointer, and the token with them.
type handedInSource struct{ tok Token }

// Token returns the token handed in. A nil ctx is refused (see
// ErrNilContext), as every other source refuses it, so that a careless
// caller learns of it here and not only with another identity.
func (s *handedInSource) Token(ctx context.Context) (Token, error) {
	if ctx == nil {
		return Token{}, nilContextError("Identity.Source().Token")
	}
	return s.tok, nil
}

// String names the token by its fingerprint, never its value.
func (s *handedInSource) String() string { return "handed-in-source(" + s.tok.String() + ")" }

// GoString keeps %#v as safe as %v.
func (s *handedInSource) GoString() string { return s.String() }

// Format prints the redacted String form for every verb.
func (s *handedInSource) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// LogValue implements slog.LogValuer with the redacted form.
func (s *handedInSource) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON writes the redacted form.
func (s *handedInSource) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }
