package manager

import (
	"context"

	"github.com/idpool/idpool/tokens"
)

// resolveKey returns id's discriminator.
func (m *Manager) resolveKey(ctx context.Context, id tokens.Identity) (string, error) {
	return id.Discriminator(ctx)
}
