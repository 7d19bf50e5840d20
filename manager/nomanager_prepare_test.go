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
	failed, err := New(Config{MaxSize: -1})
	assert.Error(t, err)
	ctx := context.Background()
	for name, db := range map[string]*sql.DB{
		"OpenDB(New's result after an error)": OpenDB(failed),
		"OpenDB(a zero Manager)":              OpenDB(&Manager{}),
		"sql.OpenDB(a zero Connector)":        sql.OpenDB(&Connector{}),
	} {
		t.Run(name, func(t *testing.T) {
			defer func() { _ = db.Close() }()
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("panicked: %v", p)
				}
			}()
			s, err := db.PrepareContext(ctx, "SELECT 1")
			assert.ErrorIs(t, err, ErrNoManager)
			if s != nil {
				_ = s.Close()
			}
		})
	}
}
