package integration

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	gormpostgres "gorm.io/driver/postgres"
	gormsqlserver "gorm.io/driver/sqlserver"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// openGORM opens GORM over the facade's *sql.DB with GORM's defaults (its
// automatic ping included), for r's server.
func openGORM(t *testing.T, r *rig) *gorm.DB {
	t.Helper()
	return openGORMWith(t, r, &gorm.Config{})
}

// openGORMWith is openGORM with cfg (its Logger discarded).
func openGORMWith(t *testing.T, r *rig, cfg *gorm.Config) *gorm.DB {
	t.Helper()
	var d gorm.Dialector
	switch r.driverName {
	case "sqlserver":
		d = gormsqlserver.New(gormsqlserver.Config{Conn: r.db.DB})
	default:
		d = gormpostgres.New(gormpostgres.Config{Conn: r.db.DB})
	}
	cfg.Logger = logger.Discard
	gdb, err := gorm.Open(d, cfg)
	require.NoError(t, err, "gorm.Open pings with no identity")
	sqlDB, err := gdb.DB()
	require.NoError(t, err)
	require.Same(t, r.db.DB, sqlDB, "GORM uses the facade's *sql.DB")
	return gdb
}

// TestGORMWithItsDefaults: gorm.Open's automatic ping succeeds without an
// identity and leaves the *sql.DB open; each call runs as the identity of
// its ctx; a transaction's calls run on its lease whatever their own ctx
// carries, and another identity is refused by name.
func TestGORMWithItsDefaults(t *testing.T) {
	servers(t, func(t *testing.T, r *rig) {
		ctx := testCtx(t)
		gdb := openGORM(t, r)
		require.NoError(t, r.db.PingContext(ctx), "the automatic ping did not close the *sql.DB")

		for _, c := range []struct {
			id    tokens.Identity
			login string
		}{{r.alice, r.aliceLogin}, {r.bob, r.bobLogin}, {r.alice, r.aliceLogin}} {
			var who string
			require.NoError(t, gdb.WithContext(as(ctx, c.id)).Raw(r.whoAmI).Scan(&who).Error)
			assert.Equal(t, c.login, who)
		}

		var who string
		err := gdb.WithContext(ctx).Raw(r.whoAmI).Scan(&who).Error
		assert.ErrorIs(t, err, tokens.ErrNoIdentity, "a query with no identity never borrows one")
		require.NoError(t, r.db.PingContext(ctx), "and a failed query does not close the *sql.DB either")

		err = gdb.WithContext(as(ctx, r.alice)).Transaction(func(tx *gorm.DB) error {
			var who string
			require.NoError(t, tx.WithContext(context.Background()).Raw(r.whoAmI).Scan(&who).Error,
				"a call on the transaction with a plain ctx runs on its lease")
			assert.Equal(t, r.aliceLogin, who)
			err := tx.WithContext(as(ctx, r.bob)).Raw(r.whoAmI).Scan(&who).Error
			assert.ErrorIs(t, err, manager.ErrIdentityMismatch, "another identity is refused, and says so")
			assert.Equal(t, r.aliceLogin, who, "nothing ran as bob")
			return nil
		})
		require.NoError(t, err)
	})
}

// note is a GORM model; Owner defaults to the login that inserted it.
type note struct {
	ID    uint `gorm:"primaryKey"`
	Body  string
	Owner string `gorm:"default:(current_user)"`
}

// TestGORMModelsOnPostgres: AutoMigrate, Create and First through the
// facade, each identity in its own schema (named after its role, so
// PostgreSQL's default search_path, "$user", public, finds it): the rows
// each identity writes are its own.
func TestGORMModelsOnPostgres(t *testing.T) {
	srv := pgtest.Shared(t)
	r := startPG(t, srv)
	for _, role := range []string{r.aliceLogin, r.bobLogin} {
		srv.Exec(t, "CREATE SCHEMA AUTHORIZATION "+role)
	}
	ctx := testCtx(t)
	gdb := openGORM(t, r)
	for _, c := range []struct {
		id    tokens.Identity
		login string
	}{{r.alice, r.aliceLogin}, {r.bob, r.bobLogin}} {
		db := gdb.WithContext(as(ctx, c.id))
		require.NoError(t, db.AutoMigrate(&note{}))
		require.NoError(t, db.Create(&note{Body: "from " + c.login}).Error)
	}
	for _, c := range []struct {
		id    tokens.Identity
		login string
	}{{r.alice, r.aliceLogin}, {r.bob, r.bobLogin}} {
		var got []note
		require.NoError(t, gdb.WithContext(as(ctx, c.id)).Find(&got).Error)
		require.Len(t, got, 1, "each identity sees its own table only")
		assert.Equal(t, "from "+c.login, got[0].Body)
		assert.Equal(t, c.login, got[0].Owner, "inserted as the ctx's identity")
	}
}

// TestGORMOnSQLServerRawStatements: GORM's Exec and Raw with parameters
// (sp_executesql) and a transaction on sim/tds, which speaks a small SQL
// subset (no OUTPUT clause, so no gorm Create).
func TestGORMOnSQLServerRawStatements(t *testing.T) {
	r := startTDS(t)
	ctx := testCtx(t)
	gdb := openGORM(t, r)
	alice := gdb.WithContext(as(ctx, r.alice))
	require.NoError(t, alice.Exec("CREATE TABLE gorm_notes (body NVARCHAR(100))").Error)
	require.NoError(t, alice.Transaction(func(tx *gorm.DB) error {
		return tx.WithContext(context.Background()).Exec("INSERT INTO gorm_notes VALUES (?)", "hello").Error
	}))
	var n int
	require.NoError(t, gdb.WithContext(as(ctx, r.bob)).Raw("SELECT COUNT(*) FROM gorm_notes").Scan(&n).Error)
	assert.Equal(t, 1, n, "the committed row")
	var who string
	require.NoError(t, gdb.WithContext(as(ctx, r.bob)).Raw("SELECT SUSER_SNAME() WHERE ? = ?", 1, 1).Scan(&who).Error)
	assert.Equal(t, r.bobLogin, who)
}
