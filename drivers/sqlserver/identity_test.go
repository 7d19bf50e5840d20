package sqlserver_test

import (
	"database/sql"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// TestZeroIdentityNeverLogsInWithTheDSNCredentials is leak 3 end to end: the
// zero Identity, and what a failed constructor returns, used to log in as the
// DSN's SQL user. Neither the dialer, nor Acquire, nor the facade (even with
// a default identity configured) lets it reach the server.
func TestZeroIdentityNeverLogsInWithTheDSNCredentials(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	d, err := sqlserver.NewDialer(dsnFor(srv, ""))
	require.NoError(t, err)
	failed, err := tokens.ClientSecretIdentity("", "client", "secret", nil)
	require.Error(t, err)

	for name, id := range map[string]tokens.Identity{"zero": {}, "failed constructor": failed} {
		_, err := d.Dial(ctx, actors.DialRequest{Key: tokens.NewKey(d.ServerKey(), "sql-login"), Identity: id})
		require.ErrorIs(t, err, tokens.ErrInvalidIdentity, name)
		require.ErrorIs(t, err, sqlserver.ErrInvalidIdentity, name)
	}

	db, err := sqlserver.OpenDB(dsnFor(srv, ""), manager.Config{MaxSize: 2}, manager.WithDefaultIdentity(tokens.SQLLogin()))
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	for name, id := range map[string]tokens.Identity{"zero": {}, "failed constructor": failed} {
		_, err := db.Manager.Acquire(ctx, id)
		require.ErrorIs(t, err, tokens.ErrInvalidIdentity, name)
		var who string
		err = db.QueryRowContext(tokens.WithIdentity(ctx, id), "SELECT SUSER_SNAME()").Scan(&who)
		require.ErrorIs(t, err, tokens.ErrInvalidIdentity, name)
		assert.Contains(t, err.Error(), "tokens.SQLLogin()", name)
		_, err = db.Conn(tokens.WithIdentity(ctx, id))
		require.ErrorIs(t, err, tokens.ErrInvalidIdentity, name)
		_, err = db.BeginTx(tokens.WithIdentity(ctx, id), nil)
		require.ErrorIs(t, err, tokens.ErrInvalidIdentity, name)
	}
	assert.Zero(t, srv.TotalLogins()+srv.FailedLogins(), "nothing reached the server")
	assert.Zero(t, db.Manager.Stats().Pools, "no pool was made for an invalid identity")

	// The explicit SQL login, and the facade's default, still work.
	var who string
	require.NoError(t, db.QueryRowContext(tokens.WithIdentity(ctx, tokens.SQLLogin()), "SELECT SUSER_SNAME()").Scan(&who))
	assert.Equal(t, "app", who)
	require.NoError(t, db.QueryRowContext(ctx, "SELECT SUSER_SNAME()").Scan(&who))
	assert.Equal(t, "app", who)
	var _ *sql.DB = db.DB
}
