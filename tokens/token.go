package tokens

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
)

// Token is an access token and the instant it expires. Its Value is secret:
// String, GoString, Format and LogValue all print a redacted form, so a Token
// can be logged or wrapped in an error without leaking it.
type Token struct {
	// Value is the bearer token sent to the server at login.
	Value string
	// ExpiresOn is when the server stops accepting Value. The zero time means
	// unknown, which callers must treat as already near expiry (fail closed).
	ExpiresOn time.Time
}

// IsZero reports whether t carries no token at all.
func (t Token) IsZero() bool { return t.Value == "" }

// Fingerprint returns a short, stable, non-reversible tag of the token value
// (the first 12 hex digits of its SHA-256), for telling tokens apart in logs.
func (t Token) Fingerprint() string {
	if t.Value == "" {
		return "none"
	}
	sum := sha256.Sum256([]byte(t.Value))
	return hex.EncodeToString(sum[:6])
}

// ValidBeyond reports whether the token is known to stay valid for longer than
// margin after now. An unknown expiry is never valid beyond anything.
func (t Token) ValidBeyond(now time.Time, margin time.Duration) bool {
	if t.ExpiresOn.IsZero() {
		return false
	}
	return t.ExpiresOn.Sub(now) > margin
}

// String implements fmt.Stringer without revealing the token.
func (t Token) String() string {
	if t.ExpiresOn.IsZero() {
		return fmt.Sprintf("token(%s, expiry unknown)", t.Fingerprint())
	}
	return fmt.Sprintf("token(%s, expires %s)", t.Fingerprint(), t.ExpiresOn.UTC().Format(time.RFC3339))
}

// GoString implements fmt.GoStringer so %#v does not reveal the token either.
func (t Token) GoString() string { return t.String() }

// Format implements fmt.Formatter: every verb prints the redacted form.
func (t Token) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(t.String())) }

// LogValue implements slog.LogValuer with the redacted form.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// Source mints access tokens for one identity. Implementations may cache (the
// azidentity credentials do); the pool calls Token only when it is about to
// open a physical connection, and never more than once at a time per pool.
// Token must honour ctx, as the azidentity credentials do: the pool's
// MintTimeout and Close end a mint through it. A Token that ignores ctx keeps
// its pool's one mint in flight until it returns, and every acquire that
// needs a new connection meanwhile waits for it until its own deadline.
type Source interface {
	Token(ctx context.Context) (Token, error)
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context) (Token, error)

// Token calls f, but refuses a nil ctx first (see ErrNilContext), so that f
// is never handed one: a function that passes its ctx on would panic, or
// begin a request that fails with net/http's "nil Context".
func (f SourceFunc) Token(ctx context.Context) (Token, error) {
	if ctx == nil {
		return Token{}, nilContextError("SourceFunc.Token")
	}
	return f(ctx)
}

// MarshalJSON writes the redacted form, so a Token inside a struct that is
// logged as JSON (slog's JSONHandler uses encoding/json) does not leak.
func (t Token) MarshalJSON() ([]byte, error) { return json.Marshal(t.String()) }

// MarshalText writes the redacted form, for encoders that use TextMarshaler.
func (t Token) MarshalText() ([]byte, error) { return []byte(t.String()), nil }
