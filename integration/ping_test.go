package integration

import (
	"fmt"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/manager"
)

// closedPort is a loopback port nothing listens on (just released).
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
}

// TestPingWithoutIdentityReachesTheServer: with no identity, Ping succeeds
// against a server that answers and fails, naming the server and never the
// DSN's password, against one that does not; nothing logs in either way.
func TestPingWithoutIdentityReachesTheServer(t *testing.T) {
	t.Run("tds", func(t *testing.T) {
		r := startTDS(t)
		require.NoError(t, r.db.Ping())
		assert.Zero(t, r.db.Manager.Stats().Total.Opens, "no login")

		db, err := sqlserver.OpenDB(fmt.Sprintf("sqlserver://sa:pw-secret@127.0.0.1:%d?database=appdb&encrypt=disable", closedPort(t)), manager.Config{})
		require.NoError(t, err)
		defer db.Close()
		err = db.Ping()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "does not answer")
		assert.NotContains(t, err.Error(), "pw-secret")
	})
	t.Run("postgres", func(t *testing.T) {
		t.Setenv("PGPASSFILE", "/nonexistent") // the DSN alone decides
		db, err := postgres.OpenDB(fmt.Sprintf("postgres://app:pw-secret@127.0.0.1:%d/postgres?sslmode=disable", closedPort(t)), manager.Config{})
		require.NoError(t, err)
		defer db.Close()
		err = db.Ping()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "does not answer")
		assert.NotContains(t, err.Error(), "pw-secret")
		assert.Zero(t, db.Manager.Stats().Total.Opens, "no login")
	})
}
