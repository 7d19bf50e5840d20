package manager

import (
	"fmt"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/tokens"
)

// handedInExpired refuses a token handed in (tokens.StaticTokenIdentity)
// that the pool would refuse to mint with: expired, within TokenThreshold,
// or with no known expiry. It runs before the pool is looked up because
// the pool judges tokens only when it mints, and a pool hit mints nothing:
// the token's key, "tok:<hash>", is also that of a TokenFuncIdentity whose
// first token it was, whose later tokens open connections in that pool, and
// those would be served to whoever still holds the expired token. Nil for
// every other identity, at the cost of a pointer check.
func (m *Manager) handedInExpired(id tokens.Identity) error {
	exp, handedIn := id.HandedInExpiry()
	if !handedIn {
		return nil
	}
	now := m.cfg.Clock.Now()
	if (tokens.Token{ExpiresOn: exp}).ValidBeyond(now, m.cfg.TokenThreshold) {
		return nil
	}
	te := &actors.TokenExpiryError{ExpiresOn: exp, Threshold: m.cfg.TokenThreshold, At: now}
	return fmt.Errorf("idpool: the token handed in (tokens.StaticTokenIdentity) authenticates nothing, not even a pool hit: %w", te)
}

// keyTokenExpired refuses, as the token a token-keyed identity learns its
// key from, a token that has expired or has no known expiry (judged as the
// pool judges a minted one, on Config.Clock, but without TokenThreshold: a
// token near its expiry is still its holder's, and the pool judges the
// tokens it dials with itself). A key is learned once and then never judged
// again (a pool hit mints nothing), and the key of an expired token is that
// of the identity whose first token it was, whose pool holds connections
// opened with its newer tokens: whoever held the expired token would be
// served them.
func (m *Manager) keyTokenExpired(tok tokens.Token) error {
	now := m.cfg.Clock.Now()
	if tok.ValidBeyond(now, 0) {
		return nil
	}
	return &actors.TokenExpiryError{ExpiresOn: tok.ExpiresOn, At: now}
}
