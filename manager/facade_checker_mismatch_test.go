package manager

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFacadeRefusedCallLeavesNothingOnTheConnection: a call on a *sql.Conn,
// *sql.Tx or *sql.Stmt of alice's whose ctx names bob is refused
// (ErrIdentityMismatch), but database/sql converts its arguments first
// (CheckNamedValue, which has no ctx), and the facade passed them to the
// checker of alice's connection. go-mssqldb's checker records output
// parameters, *mssql.ReturnStatus and *sqlexp.ReturnMessage on the
// connection for the query that follows: a refused call of bob's left his
// variables there, and alice's next query wrote into them (or, with a
// ReturnMessage, sent her results to his queue).
func TestFacadeRefusedCallLeavesNothingOnTheConnection(t *testing.T) {
	m, log := newCheckerManager(t)
	db := openFacade(t, m)
	conn, err := db.Conn(as("alice"))
	require.NoError(t, err)
	defer conn.Close()
	var who string
	require.NoError(t, conn.QueryRowContext(as("alice"), "SELECT IDENTITY", point{1, 2}).Scan(&who))
	assert.Equal(t, "test:alice", who)
	log.take()

	_, err = conn.ExecContext(as("bob"), "SELECT IDENTITY", point{1, 2})
	assert.ErrorIs(t, err, ErrIdentityMismatch)
	err = conn.QueryRowContext(as("bob"), "SELECT IDENTITY", point{1, 2}).Scan(&who)
	assert.ErrorIs(t, err, ErrIdentityMismatch)
	assert.Empty(t, log.take(), "a call refused on *sql.Conn reached alice's checker")

	stmt, err := conn.PrepareContext(as("alice"), "SELECT IDENTITY")
	require.NoError(t, err)
	defer stmt.Close()
	log.take()
	_, err = stmt.ExecContext(as("bob"), point{1, 2})
	assert.ErrorIs(t, err, ErrIdentityMismatch)
	assert.Empty(t, log.take(), "a call refused on a *sql.Stmt reached alice's checker")

	tx, err := conn.BeginTx(as("alice"), nil)
	require.NoError(t, err)
	defer tx.Rollback()
	log.take()
	_, err = tx.ExecContext(as("bob"), "SELECT IDENTITY", point{1, 2})
	assert.ErrorIs(t, err, ErrIdentityMismatch)
	_, err = tx.StmtContext(as("bob"), stmt).ExecContext(as("bob"), point{1, 2})
	assert.ErrorIs(t, err, ErrIdentityMismatch)
	assert.Empty(t, log.take(), "a call refused on a *sql.Tx reached alice's checker")

	// Alice's own calls still convert on her connection.
	require.NoError(t, tx.QueryRowContext(as("alice"), "SELECT IDENTITY", point{1, 2}).Scan(&who))
	assert.Equal(t, "test:alice", who)
	for _, id := range log.take() {
		assert.Equal(t, "test:alice", id)
	}
}
