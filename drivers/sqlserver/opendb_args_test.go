package sqlserver_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// TestOpenDBTakesTheDriversOwnArgumentTypes: go-mssqldb accepts some
// argument types only through its connection's NamedValueChecker (its
// statements have none): output parameters, DateTimeOffset, civil dates,
// TVPs. Through the facade they failed before reaching the server, with
// "unsupported type mssql.DateTimeOffset, a struct".
func TestOpenDBTakesTheDriversOwnArgumentTypes(t *testing.T) {
	srv := startServer(t)
	ctx := tokens.WithIdentity(ctxT(t), tokens.SQLLogin())
	db, err := sqlserver.OpenDB(dsnFor(srv, ""), manager.Config{MaxSize: 2})
	require.NoError(t, err)
	defer db.Close()

	want := time.Date(2020, 1, 2, 3, 4, 5, 0, time.FixedZone("", 3600))
	var got time.Time
	require.NoError(t, db.QueryRowContext(ctx, "SELECT @p1", mssql.DateTimeOffset(want)).Scan(&got))
	assert.True(t, want.Equal(got), "got %v", got)

	var out int64
	var one int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT 1", sql.Named("o", sql.Out{Dest: &out})).Scan(&one),
		"an output parameter is the driver's to take")
}

type panickingValuer struct{}

func (panickingValuer) Value() (driver.Value, error) { panic("valuer bug") }

// TestOpenDBCallThatPanicsGivesItsLeaseBack: go-mssqldb runs an argument's
// Value as it builds the request, and database/sql recovers nothing there,
// so the connection of a call that panics never came back to the facade:
// with MaxSize 1, the identity's next call waited until its deadline.
func TestOpenDBCallThatPanicsGivesItsLeaseBack(t *testing.T) {
	srv := startServer(t)
	ctx := tokens.WithIdentity(ctxT(t), tokens.SQLLogin())
	db, err := sqlserver.OpenDB(dsnFor(srv, ""), manager.Config{MaxSize: 1})
	require.NoError(t, err)
	defer db.Close()
	var n int
	assert.PanicsWithValue(t, "valuer bug", func() { _ = db.QueryRowContext(ctx, "SELECT @p1", panickingValuer{}).Scan(&n) })
	within, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, db.QueryRowContext(within, "SELECT 1").Scan(&n))
	assert.Equal(t, 1, n)
}
