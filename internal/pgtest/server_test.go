package pgtest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func connect(t *testing.T, dsn string) (*pgx.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err == nil {
		t.Cleanup(func() { c.Close(context.Background()) })
	}
	return c, err
}

func ping(c *pgx.Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var one int
	return c.QueryRow(ctx, "SELECT 1").Scan(&one)
}

func TestStartServesOnLoopbackWithPasswords(t *testing.T) {
	s := Start(t)
	require.NotZero(t, s.Port())

	c, err := connect(t, s.AdminDSN())
	require.NoError(t, err)
	var (
		version, listen, hba string
		super                bool
	)
	ctx := context.Background()
	require.NoError(t, c.QueryRow(ctx, "SHOW server_version").Scan(&version))
	assert.True(t, strings.HasPrefix(version, "15"), version)
	require.NoError(t, c.QueryRow(ctx, "SHOW listen_addresses").Scan(&listen))
	assert.Equal(t, "127.0.0.1", listen)
	require.NoError(t, c.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super))
	assert.True(t, super)
	require.NoError(t, c.QueryRow(ctx, "SELECT string_agg(auth_method, ',') FROM pg_hba_file_rules").Scan(&hba))
	assert.Equal(t, "scram-sha-256,scram-sha-256", hba)

	// The admin password is really checked.
	_, err = connect(t, s.DSN(AdminUser, "wrong", "postgres"))
	require.Error(t, err)
	_, err = connect(t, s.DSN(AdminUser, "", "postgres"))
	require.Error(t, err)
}

func TestCloseStopsAndRemoves(t *testing.T) {
	s, err := Launch()
	if err != nil {
		skipOrFail(t, err)
	}
	dsn, dir := s.AdminDSN(), s.dir
	_, err = connect(t, dsn)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
	_, err = os.Stat(dir)
	assert.True(t, os.IsNotExist(err), "directory removed: %v", err)
	_, err = connect(t, dsn)
	assert.Error(t, err, "server gone")
}

func TestRolesAndPasswords(t *testing.T) {
	s := Start(t)
	s.CreateRole(t, "alice", "first'secret")
	_, err := connect(t, s.DSN("alice", "first'secret", "postgres"))
	require.NoError(t, err)
	_, err = connect(t, s.DSN("alice", "other", "postgres"))
	require.Error(t, err)

	s.SetPassword(t, "alice", "second")
	_, err = connect(t, s.DSN("alice", "first'secret", "postgres"))
	require.Error(t, err, "old password no longer works")
	_, err = connect(t, s.DSN("alice", "second", "postgres"))
	require.NoError(t, err)

	name, pwd := s.NewRole(t, "r")
	name2, _ := s.NewRole(t, "r")
	assert.NotEqual(t, name, name2)
	_, err = connect(t, s.DSN(name, pwd, "postgres"))
	require.NoError(t, err)

	s.CreateDatabase(t, "alicedb", "alice")
	c, err := connect(t, s.DSN("alice", "second", "alicedb"))
	require.NoError(t, err)
	_, err = c.Exec(context.Background(), "CREATE TABLE t (x int)")
	require.NoError(t, err, "the owner can create tables in its database")
}

func TestTerminateBackendsAndLogins(t *testing.T) {
	s := Start(t)
	s.CreateRole(t, "bob", "pw")
	s.CreateRole(t, "carol", "pw")
	assert.Equal(t, 0, s.Logins(t, "bob"))

	var bobs []*pgx.Conn
	for range 3 {
		c, err := connect(t, s.DSN("bob", "pw", "postgres"))
		require.NoError(t, err)
		bobs = append(bobs, c)
	}
	carol, err := connect(t, s.DSN("carol", "pw", "postgres"))
	require.NoError(t, err)
	_, err = connect(t, s.DSN("bob", "bad", "postgres"))
	require.Error(t, err)

	assert.Equal(t, 3, s.Logins(t, "bob"), "failed logins do not count")
	assert.Equal(t, 1, s.Logins(t, "carol"))
	assert.Equal(t, 0, s.Logins(t, "bo"), "names are matched whole")
	assert.Equal(t, 3, s.Backends(t, "bob"))

	assert.Equal(t, 3, s.Terminate(t, "bob"))
	assert.Equal(t, 0, s.Backends(t, "bob"), "Terminate waits for the backends to go")
	for _, c := range bobs {
		assert.Error(t, ping(c))
	}
	require.NoError(t, ping(carol), "other roles are untouched")
	assert.Equal(t, 0, s.Terminate(t, "bob"))

	// The helper's own connection is spared (else its query would fail);
	// helper connections of earlier calls may still be exiting, hence >=.
	admin, err := connect(t, s.AdminDSN())
	require.NoError(t, err)
	assert.GreaterOrEqual(t, s.Terminate(t, AdminUser), 1)
	assert.Error(t, ping(admin))
}

func TestRestartKeepsPortAndData(t *testing.T) {
	s := Start(t)
	port := s.Port()
	s.CreateRole(t, "dave", "pw")
	c, err := connect(t, s.DSN("dave", "pw", "postgres"))
	require.NoError(t, err)

	s.Restart(t)
	assert.Equal(t, port, s.Port())
	assert.Error(t, ping(c), "sessions end on restart")
	c2, err := connect(t, s.DSN("dave", "pw", "postgres"))
	require.NoError(t, err, "role survives")
	require.NoError(t, ping(c2))
	assert.Equal(t, 2, s.Logins(t, "dave"), "the log continues across restarts")
}

func TestStopAndStartAgain(t *testing.T) {
	s := Start(t)
	s.Stop(t)
	s.Stop(t) // stopping a stopped server is harmless
	_, err := connect(t, s.AdminDSN())
	require.Error(t, err)
	s.StartAgain(t)
	c, err := connect(t, s.AdminDSN())
	require.NoError(t, err)
	require.NoError(t, ping(c))
}

func TestWithSettingOverrides(t *testing.T) {
	s := Start(t, WithSetting("log_connections", "off"), WithSetting("max_connections", "7"))
	assert.EqualValues(t, 7, s.QueryInt(t, "SELECT current_setting('max_connections')::int"))
	s.CreateRole(t, "erin", "pw")
	_, err := connect(t, s.DSN("erin", "pw", "postgres"))
	require.NoError(t, err)
	assert.Equal(t, 0, s.Logins(t, "erin"))
}

func TestSharedIsOneServer(t *testing.T) {
	a := Shared(t)
	b := Shared(t)
	require.Same(t, a, b)
	name, pwd := a.NewRole(t, "shared")
	_, err := connect(t, a.DSN(name, pwd, "postgres"))
	require.NoError(t, err)
}

func TestCountLogins(t *testing.T) {
	log := strings.Join([]string{
		"2024-01-01 00:00:00.000 UTC [10] LOG:  connection received: host=127.0.0.1 port=5",
		"2024-01-01 00:00:00.000 UTC [10] alice@postgres LOG:  connection authorized: user=alice database=postgres application_name=x",
		"2024-01-01 00:00:00.000 UTC [11] alice2@postgres LOG:  connection authorized: user=alice2 database=postgres",
		"2024-01-01 00:00:00.000 UTC [12] a.ice@postgres LOG:  connection authorized: user=a.ice database=postgres",
		"2024-01-01 00:00:00.000 UTC [13] alice@db LOG:  connection authorized: user=alice database=db",
	}, "\n")
	assert.Equal(t, 2, countLogins(log, "alice"))
	assert.Equal(t, 1, countLogins(log, "alice2"))
	assert.Equal(t, 1, countLogins(log, "a.ice"), "dots are literal")
	assert.Equal(t, 0, countLogins(log, "bob"))
}
