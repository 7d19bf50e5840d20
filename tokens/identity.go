package tokens

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
)

// Kind says how an identity authenticates, and so what its pool key looks like.
type Kind uint8

// The identity kinds idpool knows.
const (
	// KindSQLLogin logs in with the DSN's user and password; no token.
	KindSQLLogin Kind = iota
	// KindManagedIdentity is a system- or user-assigned managed identity.
	KindManagedIdentity
	// KindServicePrincipal is an app registration (secret, certificate or assertion).
	KindServicePrincipal
	// KindUserAccount is a signed-in user (interactive browser or device code).
	KindUserAccount
	// KindDefaultCredential is azidentity's DefaultAzureCredential chain.
	KindDefaultCredential
	// KindProvidedToken is a token, or a token function, handed in by the caller.
	KindProvidedToken
)

var kindNames = [...]string{"sql-login", "managed-identity", "service-principal", "user-account", "default-credential", "provided-token"}

// String returns the kind's short name, safe for logs and metric attributes.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ErrNoIdentity is returned where an identity is required and none was given.
var ErrNoIdentity = errors.New("idpool: no identity (use tokens.WithIdentity on the ctx)")

// Identity is who a connection logs in as. The zero Identity is invalid; use
// SQLLogin or one of the constructors. Identities are small values, safe to
// copy and to share between goroutines.
//
// Build an identity once and reuse it: its Source (an azidentity credential)
// caches tokens per instance. The pool of an identity keeps the Source of the
// first Identity value that reached it.
type Identity struct {
	kind   Kind
	disc   string
	source Source
	// fromToken, when set, derives the discriminator from the first token the
	// source mints (for credentials whose principal is unknown until then) and
	// caches it.
	fromToken *tokenDerivedKey
}

type tokenDerivedKey struct{ disc atomic.Pointer[string] }

// SQLLogin is the identity of connections that log in with the DSN's own
// credentials. Its discriminator is empty, so all SQL-login traffic to one
// server shares one pool, exactly like a plain connection-string pool.
func SQLLogin() Identity { return Identity{kind: KindSQLLogin} }

// New builds an identity of the given kind whose discriminator is known up
// front (for example "msi:system" or "sp:<tenant>/<client id>"). src mints its
// tokens; src must be nil only for KindSQLLogin.
func New(kind Kind, discriminator string, src Source) Identity {
	return Identity{kind: kind, disc: discriminator, source: src}
}

// NewTokenKeyed builds an identity whose discriminator can only be learned
// from a token: the first call to Discriminator mints one and derives
// "tok:<sha256 hex>" from the token's tenant and object id claims when it is a
// JWT that has them, otherwise from the whole token. The result is cached, so
// later acquires cost no token.
func NewTokenKeyed(kind Kind, src Source) Identity {
	return Identity{kind: kind, source: src, fromToken: &tokenDerivedKey{}}
}

// Kind reports how the identity authenticates.
func (id Identity) Kind() Kind { return id.kind }

// Source returns the token source, or nil for SQL logins.
func (id Identity) Source() Source { return id.source }

// UsesToken reports whether connections of this identity log in with a token.
func (id Identity) UsesToken() bool { return id.source != nil }

// Validate reports what makes the identity unusable, if anything.
func (id Identity) Validate() error {
	switch {
	case id.kind == KindSQLLogin && id.source != nil:
		return errors.New("idpool: a SQL-login identity cannot have a token source")
	case id.kind != KindSQLLogin && id.source == nil:
		return fmt.Errorf("idpool: a %s identity needs a token source", id.kind)
	case id.kind != KindSQLLogin && id.disc == "" && id.fromToken == nil:
		return fmt.Errorf("idpool: a %s identity needs a discriminator", id.kind)
	}
	return nil
}

// Discriminator returns the identity part of the pool key. It costs a token
// only the first time for a token-keyed identity; otherwise it reads a field.
func (id Identity) Discriminator(ctx context.Context) (string, error) {
	if err := id.Validate(); err != nil {
		return "", err
	}
	if id.fromToken == nil {
		return id.disc, nil
	}
	if d := id.fromToken.disc.Load(); d != nil {
		return *d, nil
	}
	tok, err := id.source.Token(ctx)
	if err != nil {
		return "", fmt.Errorf("idpool: minting a token to learn the %s identity's key: %w", id.kind, err)
	}
	d := "tok:" + tokenPrincipalHash(tok.Value)
	id.fromToken.disc.CompareAndSwap(nil, &d)
	return *id.fromToken.disc.Load(), nil
}

// String names the kind and a short hash of the discriminator, never a token.
func (id Identity) String() string {
	if id.kind == KindSQLLogin {
		return "identity(sql-login)"
	}
	d := id.disc
	if id.fromToken != nil {
		if p := id.fromToken.disc.Load(); p != nil {
			d = *p
		}
	}
	if d == "" {
		return fmt.Sprintf("identity(%s, key unresolved)", id.kind)
	}
	sum := sha256.Sum256([]byte(d))
	return fmt.Sprintf("identity(%s#%s)", id.kind, hex.EncodeToString(sum[:4]))
}

// GoString keeps %#v as safe as %v: the Source inside an Identity may hold
// secrets (a static token, a client secret) that a struct dump would print.
func (id Identity) GoString() string { return id.String() }

// Format prints the redacted String form for every verb.
func (id Identity) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(id.String())) }
