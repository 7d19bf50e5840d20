package memdb_test

import (
	"context"
	"database/sql/driver"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/memdb"
)

func TestTxPendingRowsAreInvisibleToOthersUntilCommit(t *testing.T) {
	db := memdb.New()
	a := dial(t, db, "msi:system", "tok")
	b := dial(t, db, "msi:system", "tok")

	tx, err := a.BeginTx(context.Background(), driver.TxOptions{})
	require.NoError(t, err)
	assert.True(t, a.Info().InTx)
	require.NoError(t, exec(t, a, "INSERT t"))
	require.NoError(t, exec(t, a, "INSERT t"))
	assert.Equal(t, int64(2), count(t, a, "t"), "a sees its own pending rows")
	assert.Equal(t, int64(0), count(t, b, "t"), "b does not")
	assert.Equal(t, 0, db.CommittedRows("t"))

	require.NoError(t, tx.Commit())
	assert.False(t, a.Info().InTx)
	assert.Equal(t, int64(2), count(t, b, "t"))
	assert.Equal(t, 2, db.CommittedRows("t"))
	assert.Equal(t, int64(2), count(t, a, "t"), "pending rows are not counted twice after commit")
	require.ErrorIs(t, tx.Commit(), memdb.ErrNoTx)
	require.NoError(t, a.Close())
	require.NoError(t, b.Close())
}

func TestTxRollbackPaths(t *testing.T) {
	type ender func(t *testing.T, db *memdb.DB, c *memdb.Conn, tx driver.Tx)
	for name, end := range map[string]ender{
		"Rollback": func(t *testing.T, _ *memdb.DB, _ *memdb.Conn, tx driver.Tx) {
			require.NoError(t, tx.Rollback())
		},
		"ROLLBACK statement": func(t *testing.T, _ *memdb.DB, c *memdb.Conn, _ driver.Tx) {
			require.NoError(t, exec(t, c, "rollback transaction"))
		},
		"ResetSession": func(t *testing.T, _ *memdb.DB, c *memdb.Conn, _ driver.Tx) {
			require.NoError(t, c.ResetSession(context.Background()))
			assert.Equal(t, 1, c.Info().Resets)
		},
		"failing ResetSession": func(t *testing.T, db *memdb.DB, c *memdb.Conn, _ driver.Tx) {
			db.SetResetError(memdb.ErrInjected)
			require.ErrorIs(t, c.ResetSession(context.Background()), memdb.ErrInjected)
			db.SetResetError(nil)
		},
		"Close": func(t *testing.T, _ *memdb.DB, c *memdb.Conn, _ driver.Tx) {
			require.NoError(t, c.Close())
		},
	} {
		t.Run(name, func(t *testing.T) {
			db := memdb.New()
			c := dial(t, db, "msi:system", "tok")
			other := dial(t, db, "msi:system", "tok")
			tx, err := c.BeginTx(context.Background(), driver.TxOptions{})
			require.NoError(t, err)
			require.NoError(t, exec(t, c, "INSERT t"))
			end(t, db, c, tx)
			assert.False(t, c.Info().InTx)
			assert.Equal(t, 0, db.CommittedRows("t"))
			assert.Equal(t, int64(0), count(t, other, "t"))
			if !c.Info().Closed {
				assert.Equal(t, int64(0), count(t, c, "t"), "pending rows are gone")
				// A later transaction starts clean and commits only its own rows.
				require.NoError(t, exec(t, c, "BEGIN"))
				require.NoError(t, exec(t, c, "INSERT t"))
				require.NoError(t, exec(t, c, "COMMIT"))
				assert.Equal(t, 1, db.CommittedRows("t"))
				require.NoError(t, c.Close())
			}
			require.NoError(t, other.Close())
			assert.Equal(t, 0, db.Misuse())
		})
	}
}

func TestTxStatementsAndMistakes(t *testing.T) {
	db := memdb.New()
	c := dial(t, db, "msi:system", "tok")
	require.ErrorIs(t, exec(t, c, "COMMIT"), memdb.ErrNoTx)
	require.ErrorIs(t, exec(t, c, "ROLLBACK"), memdb.ErrNoTx)
	require.NoError(t, exec(t, c, "begin tran"))
	require.ErrorIs(t, exec(t, c, "BEGIN"), memdb.ErrTxOpen)
	_, err := c.BeginTx(context.Background(), driver.TxOptions{})
	require.ErrorIs(t, err, memdb.ErrTxOpen)
	require.NoError(t, exec(t, c, "INSERT t"))
	require.NoError(t, exec(t, c, "commit transaction"))
	assert.Equal(t, 1, db.CommittedRows("t"))

	// Begin (the old API) works too; a cancelled ctx refuses to begin.
	tx, err := c.Begin()
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.BeginTx(ctx, driver.TxOptions{})
	require.ErrorIs(t, err, context.Canceled)
	assert.False(t, c.Info().InTx)
	assert.False(t, c.Info().Dead, "nothing was sent, so the conn is fine")

	// A tx on a conn that dies cannot commit.
	tx, err = c.BeginTx(context.Background(), driver.TxOptions{})
	require.NoError(t, err)
	require.NoError(t, exec(t, c, "INSERT t"))
	db.Kill(c.ID())
	require.ErrorIs(t, tx.Commit(), driver.ErrBadConn)
	require.ErrorIs(t, tx.Rollback(), driver.ErrBadConn)
	assert.Equal(t, 1, db.CommittedRows("t"))
	require.NoError(t, c.Close())
	assert.False(t, c.Info().InTx)
	assert.Equal(t, 0, db.Misuse())
}
