package tokens

import (
	"context"
	"fmt"
)

// Principal names an Entra principal: its tenant and its object id (the tid
// and oid claims of its tokens).
type Principal struct {
	TenantID string
	ObjectID string
}

// VouchedTokenIdentity is a token-supplied identity whose principal the
// application vouches for, keyed "oid:<tenant>/<object id>", so that every
// token of that principal (a rotated one, one handed in by another request)
// shares one pool.
//
// You verified the token (its signature, issuer, audience and expiry, for
// example in your auth middleware) and took p from its verified claims;
// idpool does not verify anything. Without that, use TokenFuncIdentity or
// StaticTokenIdentity, which key by a hash of the whole token, so that only
// the holder of that exact token reaches its connections: a forged token that
// merely claims someone's tid and oid then gets a pool of its own and is
// refused by the server.
//
// As a last check, a token src mints that is a JWT whose (unverified) tid or
// oid claim names another principal than p is refused: it would otherwise
// open a connection of that other principal in p's pool. A JWT's expiry is
// no later than its exp claim, whatever src said: the server goes by the
// token.
func VouchedTokenIdentity(p Principal, src Source) (Identity, error) {
	if isNil(src) {
		return Identity{}, nilError("token source", src)
	}
	disc, err := vouchedDiscriminator(p)
	if err != nil {
		return Identity{}, err
	}
	return withSource(KindProvidedToken, disc, &vouchedSource{p: p, src: src}), nil
}

// vouchedSource checks every token against the principal vouched for. It is
// a pointer so that %#v of an Identity prints an address, never its fields.
type vouchedSource struct {
	p   Principal
	src Source
}

// Token mints through the application's source and refuses a JWT that names
// another principal. A nil ctx is refused first (see ErrNilContext), before
// the application's source (or an on-behalf-of exchange) is called.
func (v *vouchedSource) Token(ctx context.Context) (Token, error) {
	if ctx == nil {
		return Token{}, nilContextError("Identity.Source().Token")
	}
	tok, err := v.src.Token(ctx)
	if err != nil {
		return Token{}, err
	}
	claims, ok := unverifiedClaims(tok.Value)
	if !ok {
		return tok, nil // opaque: the application's word stands
	}
	if namesAnother(claims, "tid", v.p.TenantID) || namesAnother(claims, "oid", v.p.ObjectID) {
		return Token{}, fmt.Errorf("idpool: the token's tid/oid claims name another principal than the one vouched for (%s)", tok)
	}
	return ownExpiry(tok, claims), nil
}

// VouchedPrincipal returns the principal id's token source vouches for:
// the p of VouchedTokenIdentity(p, src) and the user of
// OnBehalfOf.Identity(user, assertion), whose keys name that principal.
// It reports false for an identity whose source vouches for no principal.
// Middleware that builds the caller's identity checks with it that the
// identity is the caller's (see idpoolhttp.Middleware).
func (id Identity) VouchedPrincipal() (Principal, bool) {
	v, ok := id.source.(*vouchedSource)
	if !ok {
		return Principal{}, false
	}
	return v.p, true
}

// Same reports whether p and o name one principal as pool keys compare
// them: ids folded to lower case (see FoldID). A principal that no key can
// hold (an empty or blank id) is the same as none.
func (p Principal) Same(o Principal) bool {
	a, errA := vouchedDiscriminator(p)
	b, errB := vouchedDiscriminator(o)
	return errA == nil && errB == nil && a == b
}
