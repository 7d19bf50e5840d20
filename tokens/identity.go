package tokens

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
)

// Kind says how an identity authenticates, and so what its pool key looks like.
// The zero Kind is no kind at all: the zero Identity has it and is refused.
type Kind uint8

// kindInvalid is the kind of the zero Identity, so that a forgotten or
// failed constructor can never be mistaken for a real identity.
const kindInvalid Kind = 0

// The identity kinds idpool knows.
const (
	// KindSQLLogin logs in with the DSN's user and password; no token. Only
	// SQLLogin() makes one.
	KindSQLLogin Kind = iota + 1
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
	// KindOnBehalfOf is a user on whose behalf a middle-tier app exchanges
	// the user's token (OnBehalfOf.Identity), keyed "obo:<tenant>/<object id>".
	KindOnBehalfOf
)

var kindNames = [...]string{"invalid", "sql-login", "managed-identity", "service-principal", "user-account", "default-credential", "provided-token", "on-behalf-of"}

// String returns the kind's short name, safe for logs and metric attributes.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

func (k Kind) valid() bool { return k != kindInvalid && int(k) < len(kindNames) }

// ErrNoIdentity is returned where an identity is required and none was given.
var ErrNoIdentity = errors.New("idpool: no identity (use tokens.WithIdentity on the ctx)")

// ErrInvalidIdentity is matched (errors.Is) by every error that refuses an
// identity: the zero Identity, the result of a constructor that failed, and
// the constructors' own input errors. Such an identity never reaches a pool,
// so it can never log in with the DSN's credentials by accident.
var ErrInvalidIdentity = errors.New("idpool: invalid tokens.Identity")

// errZeroIdentity is what the zero Identity answers everywhere.
var errZeroIdentity = fmt.Errorf("%w: the zero Identity is not an identity; build one with a constructor "+
	"(a SQL login is tokens.SQLLogin()), and check its error: a constructor that fails returns the zero Identity", ErrInvalidIdentity)

// Identity is who a connection logs in as. The zero Identity is invalid and
// refused everywhere (Acquire, the facade, Discriminator) with an error that
// matches ErrInvalidIdentity; use SQLLogin or one of the constructors, which
// return either a valid identity or an error, never both. Identities are
// small values, safe to copy and to share between goroutines.
//
// Build an identity once and reuse it: its Source (an azidentity credential)
// caches tokens per instance.
//
// The newest credential wins: each constructor call makes a new credential
// (SameCredential tells them apart; copies of one Identity value share it),
// and the pool of a key mints with the credential of the most recent acquire
// that reached it, in the order its mailbox received them. So a fresh
// on-behalf-of assertion or a rotated client secret is picked up by the next
// acquire that brings it; connections already open keep their token until
// they retire as usual, and a mint that failed with an older credential while
// a newer one was known is retried with the newer one instead of failing the
// caller (once per caller: a caller already carried through such a retry
// gets the next failure, so an identity built per request cannot keep a
// caller from its error).
type Identity struct {
	kind   Kind
	disc   string
	source Source
	// cred tells one constructor call's credential from another's: a pointer
	// compare, so the hit path pays nothing to follow the newest credential.
	// It also holds the key learned from a token, for credentials whose
	// principal is unknown until then (see fromToken). One pointer for both
	// keeps Identity, and so the Lease that embeds one in its acquire
	// message, within its allocation size class.
	cred *credentialTag
}

// refusedSource is the source of an identity a constructor refused: it
// carries the reason, and mints nothing. Keeping the reason here rather than
// in a field of its own keeps Identity (and so the Lease that embeds one in
// its acquire message) within its allocation size class.
type refusedSource struct{ err error }

// Token refuses with the reason the identity was refused; a nil ctx first
// (see ErrNilContext), as every other source refuses it.
func (s refusedSource) Token(ctx context.Context) (Token, error) {
	if ctx == nil {
		return Token{}, nilContextError("Identity.Source().Token")
	}
	return Token{}, s.err
}

// tokenDerivedKey is the key learned from a token, shared by the copies of
// one Identity value; flight is the lookup in progress, if any (see
// ResolveKey). newest is the token expiring last of those the identity's
// own source returned (see KeyCurrent).
type tokenDerivedKey struct {
	disc   atomic.Pointer[string]
	flight atomic.Pointer[keyFlight]
	newest atomic.Pointer[Token]
}

// credentialTag is allocated once per constructor call, so its address names
// the credential. It is never empty (distinct zero-size allocations may share
// an address): learnsKey says whether key is in use.
type credentialTag struct {
	learnsKey bool
	// handedIn says the credential is one token handed in
	// (StaticTokenIdentity), whose expiry is expires (zero: unknown). Its
	// key is the hash of that token, which a token-keyed identity whose
	// first token it was shares: see HandedInExpiry.
	handedIn bool
	expires  time.Time
	// key derives the discriminator from the first token the source mints
	// and caches it; used only when learnsKey is set.
	key tokenDerivedKey
}

// fromToken returns the token-derived key of an identity that learns its
// key from a token, and nil for every other identity.
func (id Identity) fromToken() *tokenDerivedKey {
	if id.cred == nil || !id.cred.learnsKey {
		return nil
	}
	return &id.cred.key
}

// withSource builds a valid identity over src with a credential of its own.
func withSource(kind Kind, disc string, src Source) Identity {
	return Identity{kind: kind, disc: disc, source: src, cred: new(credentialTag)}
}

// HandedInExpiry reports whether id is one token handed in
// (StaticTokenIdentity), and if so when that token expires: the sooner of
// the expiry handed in with it and its exp claim (the zero time if neither
// is known). Such a token is all the proof its holder has: its key,
// "tok:<hash of the token>", is also that of a TokenFuncIdentity (or another
// token-keyed identity) whose first token it was, and whose pool holds
// connections opened with that identity's later tokens. So an acquire of a
// handed-in token that has expired, or whose expiry is unknown, must fail
// before its pool is looked up (manager.Acquire does), or its holder would be
// served those connections. Copies of one Identity report the same.
func (id Identity) HandedInExpiry() (expiresOn time.Time, handedIn bool) {
	if id.cred == nil || !id.cred.handedIn {
		return time.Time{}, false
	}
	return id.cred.expires, true
}

// SameCredential reports whether id and o carry the credential of one
// constructor call (copies of one Identity value do; two calls over the same
// secret do not). It is a pointer compare, cheap enough for every acquire.
func (id Identity) SameCredential(o Identity) bool { return id.cred == o.cred }

// invalid returns an identity that is refused everywhere with err.
func invalid(err error) Identity { return Identity{source: refusedSource{err}} }

// SQLLogin is the identity of connections that log in with the DSN's own
// credentials, keyed "sql-login": all SQL-login traffic to one server shares
// one pool, exactly like a plain connection-string pool. It is the only way
// to ask for the DSN's credentials.
func SQLLogin() Identity { return Identity{kind: KindSQLLogin, disc: discSQLLogin} }

// New builds an identity of the given kind whose discriminator is known up
// front, for a credential the typed constructors do not cover. The
// discriminator must lie in the kind's own domain ("msi:…" for
// KindManagedIdentity, "sp:<tenant>/<client id>" for KindServicePrincipal,
// "acct:…" for KindUserAccount; see the package documentation), and not in
// a form another constructor backs with a check New cannot make: the hash of
// a whole token ("tok:", "dac:", "msi:tok:", "sp:tok:", "acct:tok:"; only
// the holder of the token may have that key), "oid:" (VouchedTokenIdentity)
// and "obo:" (OnBehalfOf); a
// discriminator outside every reserved domain ("myapp:<user>") may name a
// KindProvidedToken identity only, and then the caller vouches that every
// token src mints belongs to that one principal. src mints the tokens.
//
// New returns no error: on bad input it returns an identity that every use
// refuses with an error matching ErrInvalidIdentity and naming the problem.
// Use SQLLogin for a SQL login.
func New(kind Kind, discriminator string, src Source) Identity {
	switch {
	case !kind.valid():
		return invalid(fmt.Errorf("%w: tokens.New with no valid kind", ErrInvalidIdentity))
	case kind == KindSQLLogin:
		return invalid(fmt.Errorf("%w: a SQL login is tokens.SQLLogin(), not tokens.New", ErrInvalidIdentity))
	case isNil(src):
		return invalid(fmt.Errorf("a %s identity needs a token source: %w", kind, nilError("token source", src)))
	}
	owner, err := domainKind(discriminator)
	if err != nil {
		return invalid(fmt.Errorf("%w: %s identity: %v", ErrInvalidIdentity, kind, err))
	}
	if owner == KindOnBehalfOf {
		// Only OnBehalfOf.Identity builds these: it pairs the key with the
		// principal check on every token.
		return invalid(fmt.Errorf("%w: the \"obo\" domain is reserved for tokens.OnBehalfOf", ErrInvalidIdentity))
	}
	if isTokenHashDisc(discriminator) {
		// The hash of a whole token is no secret (Stats shows it): the key
		// means "the holder of that token" only if it was computed from a
		// token the identity holds.
		return invalid(fmt.Errorf("%w: a %s discriminator in the hash-of-a-whole-token form is only made from a token the identity holds "+
			"(tokens.StaticTokenIdentity, TokenFuncIdentity, NewTokenKeyed), never named with tokens.New", ErrInvalidIdentity, kind))
	}
	if strings.HasPrefix(discriminator, prefixVouched) {
		// Like "obo": VouchedTokenIdentity pairs the key with the
		// principal check on every token.
		return invalid(fmt.Errorf("%w: the \"oid\" domain is reserved for tokens.VouchedTokenIdentity", ErrInvalidIdentity))
	}
	if owner != kind {
		return invalid(fmt.Errorf("%w: a %s identity cannot use a discriminator of the %s domain", ErrInvalidIdentity, kind, owner))
	}
	return withSource(kind, discriminator, src)
}

// NewTokenKeyed builds an identity whose discriminator can only be learned
// from a token: the first call to Discriminator mints one and keys the
// identity by the SHA-256 of that whole token ("tok:<hex>" for
// KindProvidedToken, "dac:<hex>" for KindDefaultCredential, "msi:tok:<hex>",
// "sp:tok:<hex>", "acct:tok:<hex>" for the others). The key is never taken
// from its claims: nobody verified them. The result is cached on this
// Identity value (and its copies), so later acquires cost no token and a
// rotated token keeps the pool; another Identity value over the same source
// gets a pool of its own.
//
// So src must mint tokens of one principal: every later token opens
// connections in the first one's pool, which any holder of the Identity is
// handed. As a last check, a later token that is a JWT whose (unverified)
// tid or oid claim differs from the first JWT's is refused, and so is any
// JWT (the first too) whose tid or oid is not a string (as
// VouchedTokenIdentity refuses one naming another principal than the one
// vouched for). An opaque token is not checked. A JWT's expiry is no later
// than its exp claim, whatever src said: the server goes by the token.
// manager.Acquire learns no key from a token that has expired or has no
// known expiry (see ResolveKeyChecked): that key is the pool of whichever
// identity's first token it was. For the same reason it is served that
// pool only while the newest token src returned has not expired; after
// that, its next acquire mints first (see KeyCurrent).
func NewTokenKeyed(kind Kind, src Source) Identity {
	return newTokenKeyed(kind, src, "")
}

// newTokenKeyed is NewTokenKeyed with the message that refuses a token of
// another principal ("" for the default).
func newTokenKeyed(kind Kind, src Source, switched string) Identity {
	if _, ok := tokenPrefix(kind); !ok {
		return invalid(fmt.Errorf("%w: a %s identity cannot be token keyed", ErrInvalidIdentity, kind))
	}
	if isNil(src) {
		return invalid(fmt.Errorf("a %s identity needs a token source: %w", kind, nilError("token source", src)))
	}
	if switched == "" {
		switched = fmt.Sprintf("idpool: the %s identity's token source returned a token of another principal (its tid/oid claims) "+
			"than its first token, which its pool is keyed by; build one identity per principal", kind)
	}
	ps := &pinnedSource{src: src, switched: switched}
	id := withSource(kind, "", ps)
	id.cred.learnsKey = true
	ps.key = &id.cred.key // each token it returns is recorded (see KeyCurrent)
	return id
}

// Kind reports how the identity authenticates.
func (id Identity) Kind() Kind { return id.kind }

// Source returns the token source, or nil for SQL logins.
func (id Identity) Source() Source { return id.source }

// UsesToken reports whether connections of this identity log in with a token.
func (id Identity) UsesToken() bool { return id.source != nil && id.kind.valid() }

// Validate reports what makes the identity unusable, if anything; every such
// error matches ErrInvalidIdentity. The zero Identity is invalid.
func (id Identity) Validate() error {
	switch {
	case !id.kind.valid():
		if r, ok := id.source.(refusedSource); ok {
			return r.err
		}
		return errZeroIdentity
	case id.kind == KindSQLLogin && (id.source != nil || id.disc != discSQLLogin):
		return fmt.Errorf("%w: a SQL-login identity has no token source; use tokens.SQLLogin()", ErrInvalidIdentity)
	case id.kind != KindSQLLogin && id.source == nil:
		return fmt.Errorf("%w: a %s identity needs a token source", ErrInvalidIdentity, id.kind)
	case id.kind != KindSQLLogin && id.disc == "" && id.fromToken() == nil:
		return fmt.Errorf("%w: a %s identity needs a discriminator", ErrInvalidIdentity, id.kind)
	}
	return nil
}

// Discriminator returns the identity part of the pool key. It costs a token
// only the first time for a token-keyed identity; otherwise it reads a field.
// A token-keyed identity learns no key from a token that has expired or has
// no known expiry (see ResolveKey): the call fails, and the next mints again.
// An invalid identity (the zero Identity among them) returns its Validate
// error.
//
// A nil ctx is refused first with an error matching ErrNilContext, for
// every identity, though only a key lookup uses ctx: refused only where a
// mint is needed, the mistake would pass with a fixed-key identity in a test
// and fail with a token-keyed one in production (it panicked, part-way into
// the lookup).
func (id Identity) Discriminator(ctx context.Context) (string, error) {
	if ctx == nil {
		return "", nilContextError("Identity.Discriminator")
	}
	if err := id.Validate(); err != nil {
		return "", err
	}
	if id.fromToken() == nil {
		return id.disc, nil
	}
	disc, _, err := id.ResolveKey(ctx)
	return disc, err
}

// String names the kind and a short hash of the discriminator, never a token.
func (id Identity) String() string {
	switch {
	case id.Validate() != nil:
		return "identity(invalid)"
	case id.kind == KindSQLLogin:
		return "identity(sql-login)"
	}
	d := id.disc
	if id.fromToken() != nil {
		if p := id.fromToken().disc.Load(); p != nil {
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

// LogValue implements slog.LogValuer with the redacted form.
func (id Identity) LogValue() slog.Value { return slog.StringValue(id.String()) }

// MarshalJSON writes the redacted form: encoding/json would otherwise print
// nothing of use (the fields are unexported) or, through a Source with
// exported fields, too much.
func (id Identity) MarshalJSON() ([]byte, error) { return json.Marshal(id.String()) }

// MarshalText writes the redacted form, for encoders that use TextMarshaler.
func (id Identity) MarshalText() ([]byte, error) { return []byte(id.String()), nil }
