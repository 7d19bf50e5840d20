package tokens

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"time"
)

// unverifiedClaims decodes the payload of a JWS in compact form (three
// dot-separated segments) without looking at its header or signature, and
// reports false for anything else (an opaque token). It reads the claims
// whatever the header's "alg" says: a parser that refuses an unknown or
// missing alg would let a token with one through a claims check as if it
// were opaque.
func unverifiedClaims(tok string) (map[string]any, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, false
	}
	var claims map[string]any
	if json.Unmarshal(payload, &claims) != nil || claims == nil {
		return nil, false
	}
	return claims, true
}

// namesAnother reports whether claims hold a claim name (tid, oid) that is
// not want: a value of another type than string counts as another.
func namesAnother(claims map[string]any, name, want string) bool {
	v, present := claims[name]
	if !present {
		return false
	}
	s, ok := v.(string)
	return !ok || (s != "" && foldID(s) != foldID(want)) // as keys compare ids
}

// pinnedSource is the source of a token-keyed identity: it refuses a token
// whose claims name another principal than its first JWT's. A pointer, so
// %#v of an Identity prints an address.
type pinnedSource struct {
	src      Source
	switched string // the refusal's text
	first    atomic.Pointer[Principal]
	// key is the identity's learned key, whose newest token each token
	// returned here may become (see KeyCurrent).
	key *tokenDerivedKey
}

// Token mints through src and checks the principal has not changed. A nil
// ctx is refused first (see ErrNilContext), before src is called: the
// caller's own function, or a credential, would be handed it.
func (s *pinnedSource) Token(ctx context.Context) (Token, error) {
	if ctx == nil {
		return Token{}, nilContextError("Identity.Source().Token")
	}
	tok, err := s.src.Token(ctx)
	if err != nil {
		return Token{}, err
	}
	claims, ok := unverifiedClaims(tok.Value)
	if !ok {
		return s.returned(tok), nil // opaque: the key (its hash) is all there is
	}
	p, ok := principalClaims(claims)
	if !ok {
		return Token{}, errors.New(s.switched)
	}
	if s.first.CompareAndSwap(nil, &p) || *s.first.Load() == p {
		return s.returned(ownExpiry(tok, claims)), nil
	}
	return Token{}, errors.New(s.switched)
}

// returned records tok as the identity's newest token if it expires later
// than the one recorded, and returns it.
func (s *pinnedSource) returned(tok Token) Token {
	if s.key != nil {
		s.key.saw(tok)
	}
	return tok
}

// ownExpiry lowers tok's expiry to the exp claim of its claims when that is
// sooner (or tok's is unknown): the server goes by the token, so a later
// expiry a caller named would have its connections served, and the token
// sent at login, after the server stopped accepting it.
func ownExpiry(tok Token, claims map[string]any) Token {
	if exp, ok := expClaim(claims); ok && (tok.ExpiresOn.IsZero() || exp.Before(tok.ExpiresOn)) {
		tok.ExpiresOn = exp
	}
	return tok
}

// principalClaims returns a token's tid and oid as keys compare them ("" for
// one that is absent), or false if either is not a string.
func principalClaims(claims map[string]any) (Principal, bool) {
	var p Principal
	for name, into := range map[string]*string{"tid": &p.TenantID, "oid": &p.ObjectID} {
		v, present := claims[name]
		if !present {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return Principal{}, false
		}
		*into = foldID(s)
	}
	return p, true
}

// UnverifiedTimes returns the iat (issued) and exp (expires) claims of a
// JWT, read in one parse whatever its alg and without verifying anything;
// each is the zero time if tok is not a JWT or the claim is not a number in
// a sane range, except that an exp of 0 or less reads as the Unix epoch (the
// token has expired; see expClaim). It is for ordering tokens the caller has verified itself
// (onbehalf.Cache keeps a user's newest assertion); never trust a token
// because of it.
func UnverifiedTimes(tok string) (issued, expires time.Time) {
	claims, ok := unverifiedClaims(tok)
	if !ok {
		return time.Time{}, time.Time{}
	}
	issued, _ = numericDate(claims, "iat")
	expires, _ = expClaim(claims)
	return issued, expires
}

// claimExpiry returns the exp claim of a JWT (read whatever its alg, not
// verified), or false if it is not a JWT with an exp expClaim can read.
func claimExpiry(tok string) (time.Time, bool) {
	claims, ok := unverifiedClaims(tok)
	if !ok {
		return time.Time{}, false
	}
	return expClaim(claims)
}

// expClaim returns when a token expires by its exp claim, or false when
// the claim says nothing readable.
//
// An exp of 0 or less is a NumericDate at or before the Unix epoch (RFC
// 7519 4.1.4): the token expired then and must not be accepted. It reads
// as the epoch, which every expiry check refuses and no later expiry a
// caller names can replace. It was read as unknown, the sanity range's
// "not a date", and StaticTokenIdentity then took the caller's later
// expiry for a token that expired in 1970: the pool dialed with it, and
// the server's refusal was all its caller saw. The epoch rather than the
// instant itself: every instant that far back is refused alike, and the
// epoch needs no range check (-1e300 seconds is no time.Time).
//
// A missing exp, one that is not a JSON number (the string "1700000000"),
// NaN, or one past 1e12 (the year 33658) still reads as unknown, as for an
// opaque token: the expiry the credential or the caller states governs,
// and with none the token is refused as of unknown expiry (fail closed). A
// value that is not a NumericDate names no instant idpool could check
// without guessing its unit or format. An absurdly large one could only
// ever be later than the expiry it is compared with, so it would cap
// nothing, and where it is the only expiry known it would keep the token
// valid for ever, where unknown refuses it.
func expClaim(claims map[string]any) (time.Time, bool) {
	if v, ok := claims["exp"].(float64); ok && v <= 0 {
		return time.Unix(0, 0), true
	}
	return numericDate(claims, "exp")
}

// numericDate returns the claim name as a time, or false if it is not a
// number in a sane range.
func numericDate(claims map[string]any, name string) (time.Time, bool) {
	v, ok := claims[name].(float64)
	if !ok || math.IsNaN(v) || v <= 0 || v > 1e12 { // 1e12 s: year 33658
		return time.Time{}, false
	}
	sec, frac := math.Modf(v)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}
