package postgres

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
)

// poolConfig runs dsn's pool parameters through what OpenDB and OpenPool
// do with them, and says what pgx would still send to the server.
func poolConfig(t *testing.T, dsn string, cfg manager.Config) (manager.Config, map[string]string, error) {
	t.Helper()
	pc, err := parseDSN(dsn)
	require.NoError(t, err)
	cfg, err = takePoolParams(pc.RuntimeParams).apply(cfg)
	return cfg, pc.RuntimeParams, err
}

func TestDSNPoolParamsFillTheConfig(t *testing.T) {
	for _, dsn := range []string{
		"postgres://u:p@h/db?sslmode=require&pool_max_conns=5&pool_min_conns=1&pool_max_conn_lifetime=90m&pool_max_conn_idle_time=10m&application_name=app",
		"host=h user=u password=p dbname=db sslmode=require pool_max_conns=5 pool_min_conns=1 pool_max_conn_lifetime=90m pool_max_conn_idle_time=10m application_name=app",
	} {
		cfg, sent, err := poolConfig(t, dsn, manager.Config{AcquireTimeout: time.Second})
		require.NoError(t, err, dsn)
		assert.Equal(t, 5, cfg.MaxSize)
		assert.Equal(t, 1, cfg.MinSize)
		assert.Equal(t, 90*time.Minute, cfg.MaxLifetime)
		assert.Equal(t, 10*time.Minute, cfg.IdleTimeout)
		assert.Equal(t, time.Second, cfg.AcquireTimeout, "other fields untouched")
		assert.Equal(t, map[string]string{"application_name": "app"}, sent, "no pool_* parameter reaches the server")
	}
}

func TestDSNPoolParamsAgainstAnExplicitConfig(t *testing.T) {
	// Equal settings agree, however they are written.
	cfg, _, err := poolConfig(t, "postgres://h/db?pool_max_conns=5&pool_max_conn_lifetime=0s&pool_max_conn_idle_time=5m",
		manager.Config{MaxSize: 5, MaxLifetime: -1, IdleTimeout: 300 * time.Second})
	require.NoError(t, err)
	assert.Equal(t, 5, cfg.MaxSize)
	assert.Negative(t, cfg.MaxLifetime, "pgxpool's 0 lifetime is no limit, idpool's negative one")

	// Different ones conflict, and every conflict is named with both sides.
	_, _, err = poolConfig(t, "postgres://h/db?pool_max_conns=5&pool_min_conns=2&pool_max_conn_lifetime=-1s&pool_max_conn_idle_time=1m",
		manager.Config{MaxSize: 10, MinSize: 1, MaxLifetime: time.Hour, IdleTimeout: time.Minute})
	require.Error(t, err)
	for _, want := range []string{
		"pool_max_conns=5 conflicts with manager.Config.MaxSize=10",
		"pool_min_conns=2 conflicts with manager.Config.MinSize=1",
		"pool_max_conn_lifetime=off conflicts with manager.Config.MaxLifetime=1h0m0s",
	} {
		assert.ErrorContains(t, err, want)
	}
	assert.NotContains(t, err.Error(), "idle_time", "agreeing settings are no conflict")
}

func TestDSNPoolParamsRefusedByName(t *testing.T) {
	const secret = "Hunter2Secret"
	cases := map[string]string{
		"pool_health_check_period=30s":      "pool_health_check_period: idpool has no counterpart",
		"pool_min_idle_conns=1":             "pool_min_idle_conns: idpool has no counterpart",
		"pool_max_conn_lifetime_jitter=1m":  "pool_max_conn_lifetime_jitter: idpool has no counterpart",
		"pool_ping_timeout=1s":              "pool_ping_timeout: idpool has no counterpart",
		"pool_mystery=" + secret:            "pool_mystery: not a pool parameter idpool knows",
		"POOL_MAX_CONNS=5":                  "POOL_MAX_CONNS: not a pool parameter idpool knows",
		"pool_max_conns=0":                  "pool_max_conns: must be an integer of at least 1",
		"pool_max_conns=" + secret:          "pool_max_conns: must be an integer of at least 1",
		"pool_min_conns=-1":                 "pool_min_conns: must be an integer of at least 0",
		"pool_max_conn_lifetime=" + secret:  "pool_max_conn_lifetime: must be a duration",
		"pool_max_conn_idle_time=0s":        "pool_max_conn_idle_time: must be a positive duration",
		"pool_max_conn_idle_time=" + secret: "pool_max_conn_idle_time: must be a positive duration",
	}
	for param, want := range cases {
		dsn := "postgres://user:" + secret + "@h/db?" + param
		_, _, err := poolConfig(t, dsn, manager.Config{})
		require.Error(t, err, param)
		assert.ErrorContains(t, err, want)
		assert.NotContains(t, err.Error(), secret, "neither the DSN nor a value is quoted")
	}
	_, _, err := poolConfig(t, "postgres://h/db?pool_health_check_period=30s&pool_max_conns=x", manager.Config{})
	assert.ErrorContains(t, err, "pool_health_check_period")
	assert.ErrorContains(t, err, "pool_max_conns", "every problem is named")
}
