package sqlserver_test

import (
	"testing"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// TestOpenDBRefusedCallLeavesNoOutputOnAnotherIdentitysConnection: a call
// with bob's ctx on alice's *sql.Conn is refused, but database/sql checks
// its arguments first, and go-mssqldb's checker keeps a *mssql.ReturnStatus
// (and output parameters, and a sqlexp.ReturnMessage queue) on the
// connection for the next query to fill. The facade passed bob's to alice's
// connection before refusing the call: alice's next query wrote its return
// status into bob's variable.
func TestOpenDBRefusedCallLeavesNoOutputOnAnotherIdentitysConnection(t *testing.T) {
	rig := startBulkRig(t)
	asAlice := tokens.WithIdentity(ctxT(t), rig.alice)
	asBob := tokens.WithIdentity(ctxT(t), rig.bob)
	conn, err := rig.db.Conn(asAlice)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.PingContext(asAlice))

	var bobs mssql.ReturnStatus
	_, err = conn.ExecContext(asBob, "SELECT 1", &bobs)
	require.ErrorIs(t, err, manager.ErrIdentityMismatch)
	bobs = 42 // bob's variable, his own again once his call returned

	_, err = conn.ExecContext(asAlice, "SELECT @p1", 7)
	require.NoError(t, err)
	assert.Equal(t, mssql.ReturnStatus(42), bobs, "alice's query wrote its return status into bob's variable")
}

// TestOpenDBCallWhoseArgumentFailsLeavesNoOutputForTheNextLease: database/sql
// converts the arguments one by one, and go-mssqldb's checker records an
// output (here a *mssql.ReturnStatus) on the connection as it meets it; an
// argument after it that fails to convert fails the call before any query
// clears it. The facade then gave the connection back to its pool as it
// was (go-mssqldb's ResetSession leaves it), and the next lease's query,
// another request of the identity, wrote into the failed caller's variable.
func TestOpenDBCallWhoseArgumentFailsLeavesNoOutputForTheNextLease(t *testing.T) {
	rig := startBulkRig(t)
	asAlice := tokens.WithIdentity(ctxT(t), rig.alice)

	var first mssql.ReturnStatus
	_, err := rig.db.ExecContext(asAlice, "SELECT @p1", &first, make(chan int))
	require.Error(t, err)
	first = 42 // the failed caller's variable, his own again

	_, err = rig.db.ExecContext(asAlice, "SELECT @p1", 7)
	require.NoError(t, err)
	assert.Equal(t, mssql.ReturnStatus(42), first, "the next request's query wrote its return status into the failed caller's variable")
}
