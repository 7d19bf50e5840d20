package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// TestAFatalResetIsRetriedByDatabaseSQL: when the deferred reset in front of
// a call fails and the server ends the session (here: a lease's server-side
// code left a hidden SQL-level prepared statement, which the reset refuses),
// the call provably did not run, so the facade reports driver.ErrBadConn and
// database/sql runs it again on another connection, once: the caller sees
// no error and the INSERT happened exactly once.
func TestAFatalResetIsRetriedByDatabaseSQL(t *testing.T) {
	srv := pgtest.Shared(t)
	role, pwd := srv.NewRole(t, "fatalretry")
	table := "witness_" + role
	srv.Exec(t, "CREATE TABLE "+table+" (x int)")
	srv.Exec(t, "GRANT INSERT ON "+table+" TO "+role)
	db, err := postgres.OpenDB(srv.DSN(role, pwd, "postgres"), manager.Config{MaxSize: 2},
		postgres.WithFacadeOptions(manager.WithDefaultIdentity(tokens.SQLLogin())))
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	// database/sql keeps no connection of its own: each call leases from
	// idpool, and each release resets the session (deferred).
	db.SetMaxIdleConns(0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	_, err = db.ExecContext(ctx, `DO $$BEGIN EXECUTE 'PREP' || 'ARE leak AS SELECT 1'; END$$`)
	require.NoError(t, err)
	require.EqualValues(t, 1, db.Manager.Stats().Total.Open)

	_, err = db.ExecContext(ctx, "INSERT INTO "+table+" VALUES ($1)", 1)
	require.NoError(t, err, "database/sql ran the call again on another connection")
	assert.EqualValues(t, 1, srv.QueryInt(t, "SELECT count(*) FROM "+table), "the INSERT ran exactly once")
	s := db.Manager.Stats().Total
	assert.EqualValues(t, 2, s.Opens, "the session the reset failed on was replaced")
}
