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
