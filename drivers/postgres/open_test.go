package postgres_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// A pgxpool-style DSN: the settings idpool has go into the Config, and none
// reaches the server, which would refuse every login over it
// ("unrecognized configuration parameter").
const pgxpoolParams = "&pool_max_conns=1&pool_min_conns=0&pool_max_conn_lifetime=1h&pool_max_conn_idle_time=10m"

func TestOpenPoolHonoursPgxpoolDSNParams(t *testing.T) {
	srv := pgtest.Shared(t)
	role, tok := srv.NewRole(t, "pooldsn")
	id := tokenIdentity(role, tok)
	pool, err := postgres.OpenPool(srv.DSN("nobody", "", "postgres")+pgxpoolParams, manager.Config{},
		postgres.WithLoginUser(role))
	require.NoError(t, err)
	defer func() { require.NoError(t, pool.Close()) }()

	var who string
	require.NoError(t, pool.QueryRow(as(t, id), "SELECT current_user").Scan(&who))
	assert.Equal(t, role, who)
	st := pool.Manager().Stats()
	require.Len(t, st.PerPool, 1)
	assert.Equal(t, 1, st.PerPool[0].MaxSize, "pool_max_conns")
}

func TestOpenDBHonoursPgxpoolDSNParams(t *testing.T) {
	srv := pgtest.Shared(t)
	role, tok := srv.NewRole(t, "dbdsn")
	id := tokenIdentity(role, tok)
	db, err := postgres.OpenDB(srv.DSN("nobody", "", "postgres")+pgxpoolParams, manager.Config{MaxSize: 1},
		postgres.WithUser(roleOf))
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()

	var who string
	require.NoError(t, db.QueryRowContext(as(t, id), "SELECT current_user").Scan(&who))
	assert.Equal(t, role, who)
	assert.Equal(t, 1, db.Manager.Stats().PerPool[0].MaxSize)
}

// TestPoolParamsRefusedWithoutAPool: OpenDB and OpenPool refuse a pool_*
// parameter they cannot honour, and NewDialer refuses them all, naming the
// parameter and neither quoting the DSN nor starting anything.
func TestPoolParamsRefusedWithoutAPool(t *testing.T) {
	const dsn = "postgres://app:Hunter2Secret@db.example.com/app?sslmode=require&pool_max_conns=5&pool_health_check_period=30s"
	_, err := postgres.OpenDB(dsn, manager.Config{})
	assert.ErrorContains(t, err, "pool_health_check_period")
	assert.NotContains(t, err.Error(), "Hunter2Secret")
	_, err = postgres.OpenPool(dsn, manager.Config{})
	assert.ErrorContains(t, err, "pool_health_check_period")
	_, err = postgres.OpenPool("postgres://h/db?pool_max_conns=5", manager.Config{MaxSize: 10})
	assert.ErrorContains(t, err, "pool_max_conns=5 conflicts with manager.Config.MaxSize=10")

	_, err = postgres.NewDialer("postgres://app:Hunter2Secret@h/db?pool_max_conns=5")
	assert.ErrorContains(t, err, "DSN parameter pool_max_conns is a pool setting")
	assert.NotContains(t, err.Error(), "Hunter2Secret")
}

// TestWithLoginUser: every token identity logs in as the one user named,
// whatever the DSN's user; a SQL login keeps the DSN's user and password.
func TestWithLoginUser(t *testing.T) {
	srv := pgtest.Shared(t)
	app, tok := srv.NewRole(t, "loginuser")
	sqlRole, sqlPwd := srv.NewRole(t, "sqlrole")
	db, err := postgres.OpenDB(srv.DSN(sqlRole, sqlPwd, "postgres"), manager.Config{},
		postgres.WithLoginUser(app), postgres.WithFacadeOptions(manager.WithDefaultIdentity(tokens.SQLLogin())))
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()

	var who string
	require.NoError(t, db.QueryRowContext(as(t, tokenIdentity("any-name", tok)), "SELECT current_user").Scan(&who))
	assert.Equal(t, app, who)
	require.NoError(t, db.QueryRowContext(t.Context(), "SELECT current_user").Scan(&who))
	assert.Equal(t, sqlRole, who, "the default identity, a SQL login, uses the DSN's user")
}

func TestScopeIsTheTokensConstant(t *testing.T) {
	assert.Equal(t, tokens.ScopePostgreSQL, postgres.Scope)
}
