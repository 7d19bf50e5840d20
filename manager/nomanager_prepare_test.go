package manager

import (
	"context"
	"database/sql"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestAPrepareWithoutIdentityOverNoManagerSaysSo: sqlc's Prepare(ctx, db)
// at start-up, with no identity in its ctx, over New's result kept although
// New failed (nil) or a zero Connector panicked with a nil pointer, and
// over a zero Manager succeeded with a statement no call could run. It
// fails with ErrNoManager, as a Prepare over a closed Manager fails with
// ErrClosed.
func TestAPrepareWithoutIdentityOverNoManagerSaysSo(t *testing.T) {
	ctx := context.Background()
	overNoManager(t, func(t *testing.T, db *sql.DB) {
		s, err := db.PrepareContext(ctx, "SELECT 1")
		assert.ErrorIs(t, err, ErrNoManager)
		if s != nil {
			_ = s.Close()
		}
	})
}
