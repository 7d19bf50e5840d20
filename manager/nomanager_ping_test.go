package manager

import (
	"context"
	"database/sql"
	"testing"

	"github.com/idpool/idpool/tokens"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAPingWithoutIdentityOverNoManagerSaysSo: the facade over New's
// result kept although New failed (nil), a zero Manager, or a zero
// Connector, used to panic with a nil pointer on a Ping whose ctx carries
// no identity: GORM's automatic ping at gorm.Open, or sql.DB.Ping at
// start-up, the first call most programs make. It fails with ErrNoManager,
// as every call with an identity already did.
func TestAPingWithoutIdentityOverNoManagerSaysSo(t *testing.T) {
	ctx := context.Background()
	overNoManager(t, func(t *testing.T, db *sql.DB) {
		assert.ErrorIs(t, db.PingContext(ctx), ErrNoManager)
		c, err := db.Conn(ctx)
		require.NoError(t, err, "a connection without an identity binds nothing yet")
		defer func() { _ = c.Close() }()
		assert.ErrorIs(t, c.PingContext(ctx), ErrNoManager)
	})
}

// overNoManager runs f on a *sql.DB over each kind of missing Manager a
// careless caller can end up with: New's result kept although New failed
// (nil), a zero Manager, a zero Connector. A panic in f fails the subtest
// rather than the whole run.
func overNoManager(t *testing.T, f func(t *testing.T, db *sql.DB)) {
	failed, err := New(Config{MaxSize: -1})
	require.Error(t, err)
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
			f(t, db)
		})
	}
}

// TestANilConnectorSaysSo: sql.OpenDB over a nil *Connector (a variable
// never assigned NewConnector's result) panicked with a nil pointer at the
// first call; every call fails with ErrNoManager, as over a zero Connector.
func TestANilConnectorSaysSo(t *testing.T) {
	db := sql.OpenDB((*Connector)(nil))
	defer func() { _ = db.Close() }()
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("panicked: %v", p)
		}
	}()
	ctx := context.Background()
	assert.ErrorIs(t, db.PingContext(ctx), ErrNoManager)
	_, err := db.ExecContext(tokens.WithIdentity(ctx, identity("alice")), "SELECT 1")
	assert.ErrorIs(t, err, ErrNoManager)
}
