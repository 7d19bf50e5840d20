package integration

import (
	"context"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// TestSQLXWithItsDefaults: sqlx over the facade's *sql.DB. Its ctx helpers
// run as the ctx's identity; its context-less helpers carry none, so they
// fail with ErrNoIdentity (never borrowing a connection) except Ping, and
// except on a transaction, whose calls run on its lease; a statement
// prepared with no identity runs as each caller's.
func TestSQLXWithItsDefaults(t *testing.T) {
	servers(t, func(t *testing.T, r *rig) {
		ctx := testCtx(t)
		db := sqlx.NewDb(r.db.DB, r.driverName)
		require.NoError(t, db.Ping(), "a ping with no identity checks the server only")

		var who string
		require.NoError(t, db.GetContext(as(ctx, r.alice), &who, r.whoAmI))
		assert.Equal(t, r.aliceLogin, who)
		var whos []string
		require.NoError(t, db.SelectContext(as(ctx, r.bob), &whos, r.whoAmI))
		assert.Equal(t, []string{r.bobLogin}, whos)
		var echo string
		require.NoError(t, db.GetContext(as(ctx, r.bob), &echo, db.Rebind("SELECT ?"), "bound"))
		assert.Equal(t, "bound", echo)

		err := db.Get(&who, r.whoAmI)
		assert.ErrorIs(t, err, tokens.ErrNoIdentity, "a context-less query names nobody")
		require.NoError(t, db.Ping(), "and leaves the *sql.DB open")

		tx, err := db.BeginTxx(as(ctx, r.alice), nil)
		require.NoError(t, err)
		require.NoError(t, tx.Get(&who, r.whoAmI), "a context-less call on the transaction runs on its lease")
		assert.Equal(t, r.aliceLogin, who)
		err = tx.GetContext(as(ctx, r.bob), &who, r.whoAmI)
		assert.ErrorIs(t, err, manager.ErrIdentityMismatch)
		require.NoError(t, tx.Commit())

		stmt, err := db.PreparexContext(context.Background(), r.whoAmI)
		require.NoError(t, err, "preparing with no identity touches no session")
		defer stmt.Close()
		for _, c := range []struct {
			id    tokens.Identity
			login string
		}{{r.alice, r.aliceLogin}, {r.bob, r.bobLogin}} {
			require.NoError(t, stmt.GetContext(as(ctx, c.id), &who))
			assert.Equal(t, c.login, who)
		}
	})
}

// TestSQLXContextlessHelpersWithADefaultIdentity: with WithDefaultIdentity,
// sqlx's context-less helpers run as that identity; a ctx's identity still
// wins.
func TestSQLXContextlessHelpersWithADefaultIdentity(t *testing.T) {
	r := startPGDefault(t, pgtest.Shared(t), true)
	db := sqlx.NewDb(r.db.DB, r.driverName)
	var who string
	require.NoError(t, db.Get(&who, r.whoAmI))
	assert.Equal(t, r.aliceLogin, who, "the default identity")
	require.NoError(t, db.GetContext(as(testCtx(t), r.bob), &who, r.whoAmI))
	assert.Equal(t, r.bobLogin, who)
}
