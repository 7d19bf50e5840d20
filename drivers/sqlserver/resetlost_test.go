package sqlserver_test

import (
	"database/sql/driver"
	"errors"
	"testing"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// failingValuer is an argument whose Value fails, as go-mssqldb encodes it.
type failingValuer struct{}

func (failingValuer) Value() (driver.Value, error) { return nil, errors.New("no value") }

// TestACallThatFailsBeforeSendingKeepsTheReset: go-mssqldb's ResetSession
// only flags the connection, and the next request carries the reset. It
// clears the flag as it starts to build the request, before it encodes the
// arguments: a lease's first call that fails there sends nothing, and the
// flag was gone, so the lease's next call ran in the session as the last
// lease had left it (here its temporary table, and its SET LOCK_TIMEOUT; a
// transaction it left open closes the connection at Release instead, see
// txleft_test.go).
// Once a request has gone out, a failure keeps the lease's own session.
func TestACallThatFailsBeforeSendingKeepsTheReset(t *testing.T) {
	for _, c := range []struct {
		name string
		arg  any
	}{
		{"a TVP go-mssqldb cannot encode", mssql.TVP{TypeName: "", Value: 5}},
		{"a Valuer that fails", failingValuer{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := startServer(t)
			ctx := tokens.WithIdentity(ctxT(t), tokens.SQLLogin())
			db, err := sqlserver.OpenDB(dsnFor(srv, ""), manager.Config{MaxSize: 1})
			require.NoError(t, err)
			defer db.Close()

			_, err = db.ExecContext(ctx, "CREATE TABLE #left (a int); INSERT INTO #left VALUES (1); SET LOCK_TIMEOUT 250")
			require.NoError(t, err)

			// The next lease, of the same connection (MaxSize 1).
			conn, err := db.Conn(ctx)
			require.NoError(t, err)
			defer conn.Close()
			failBeforeSending := func() {
				t.Helper()
				_, err := conn.ExecContext(ctx, "SELECT @p1", c.arg)
				require.Error(t, err, "go-mssqldb refuses this argument before sending")
				var me mssql.Error
				require.False(t, errors.As(err, &me), "the server never saw the call: %v", err)
			}
			failBeforeSending()
			failBeforeSending() // twice: still nothing sent

			var lockTimeout int
			require.NoError(t, conn.QueryRowContext(ctx, "SELECT @@LOCK_TIMEOUT").Scan(&lockTimeout))
			assert.Equal(t, -1, lockTimeout, "the last lease's SET reached this one")
			var n int
			err = conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM #left").Scan(&n)
			var me mssql.Error
			require.True(t, errors.As(err, &me), "the last lease's temporary table reached this one (rows: %d, err: %v)", n, err)
			assert.EqualValues(t, 208, me.Number, "invalid object name: %v", err)

			// The lease's own session outlives a failure after a request.
			_, err = conn.ExecContext(ctx, "CREATE TABLE #mine (a int)")
			require.NoError(t, err)
			failBeforeSending()
			require.NoError(t, conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM #mine").Scan(&n))
			assert.Zero(t, n)
		})
	}
}
