package tds_test

import (
	"strings"
	"testing"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/tds"
)

// TestRequestOverMaxMessageSizeGetsAnError: a request longer than
// Options.MaxMessageSize closed the connection, so the client reported only
// "connection reset by peer", with nothing to say that the simulator's limit
// (far below SQL Server's) was what it had hit. The request is now read to
// its end without being kept and answered with an ERROR naming the limit, and
// the session goes on.
func TestRequestOverMaxMessageSizeGetsAnError(t *testing.T) {
	const limit = 64 << 10
	srv, err := tds.Start(tds.Options{Users: map[string]string{"alice": alicePassword}, MaxMessageSize: limit})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	db := openDB(t, sqlDSN(srv, "alice", alicePassword, ""))
	db.SetMaxOpenConns(1)
	ctx := ctxT(t)
	var spid int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT @@SPID").Scan(&spid))

	big := strings.Repeat("x", limit) // twice the limit in UTF-16
	var s string
	for name, run := range map[string]func() error{
		"batch": func() error { return db.QueryRowContext(ctx, "SELECT N'"+big+"'").Scan(&s) },
		"rpc":   func() error { return db.QueryRowContext(ctx, "SELECT @p1", big).Scan(&s) },
	} {
		err := run()
		requireSQLError(t, err, 50000)
		var me mssql.Error
		require.ErrorAs(t, err, &me)
		assert.Contains(t, me.Message, "message size limit of 65536 bytes", name)

		var again int
		require.NoError(t, db.QueryRowContext(ctx, "SELECT @@SPID").Scan(&again), name)
		assert.Equal(t, spid, again, "%s: the session went on", name)
	}
	assert.Equal(t, 1, srv.TotalLogins(), "no new login was needed")
}
