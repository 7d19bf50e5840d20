package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

// recordingConn is memdb's connection (which has QueryerContext, as pgx's
// has) with checkerConn's NamedValueChecker: it converts a point, which
// database/sql's default conversion refuses, as pgx takes slices that the
// default refuses, and records whose connection checked each argument.
type recordingConn struct {
	*memdb.Conn
	checked *checkLog
}

func (c recordingConn) CheckNamedValue(nv *driver.NamedValue) error {
	return checkerConn{stmtOnlyConn{c.Conn}, c.checked}.CheckNamedValue(nv)
}

func newRecordingManager(t *testing.T) (*Manager, *memdb.DB, *checkLog) {
	log := new(checkLog)
	mem := memdb.New()
	m, _ := newManager(t, Config{MaxSize: 2, Dialer: DialerFunc(func(ctx context.Context, req DialRequest) (driver.Conn, error) {
		c, err := mem.Dial(ctx, req)
		if err != nil {
			return nil, err
		}
		return recordingConn{c.(*memdb.Conn), log}, nil
	})})
	return m, mem, log
}

// callHandedAnOpenersShell runs bob's call with a point argument on a
// connection that database/sql's connection opener made (its ctx carries
// no identity) and handed to the waiting call without a reset: with
// SetMaxOpenConns(1), bob waits while alice's *sql.Conn holds the only
// connection, and alice's connection goes bad, which makes database/sql
// open another for the waiting call.
func callHandedAnOpenersShell(t *testing.T, opts ...FacadeOption) (string, *checkLog, error) {
	m, mem, log := newRecordingManager(t)
	db := openFacade(t, m, opts...)
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(as("alice"))
	require.NoError(t, err)
	var who string
	done := make(chan error)
	go func() { done <- db.QueryRowContext(as("bob"), "SELECT IDENTITY", point{1, 2}).Scan(&who) }()
	eventually(t, func() bool { return db.Stats().WaitCount == 1 }, "bob waits for the connection")
	log.take()
	mem.FailQueries(1, driver.ErrBadConn)
	_, err = conn.ExecContext(as("alice"), "SELECT 1")
	require.ErrorIs(t, err, driver.ErrBadConn)
	_ = conn.Close() // already closed by database/sql, as bad
	err = <-done
	return who, log, err
}

// TestFacadeConvertsArgumentsOnTheCallsOwnLease: database/sql converts a
// call's arguments before the call binds the shell it was handed. On a
// shell of database/sql's connection opener, which holds no lease, they met
// database/sql's default conversion instead of the driver's: with
// SetMaxOpenConns, under load, a pgx caller's []int64 for "= ANY($1)" failed
// with "unsupported type" whenever a connection had gone bad while it
// waited.
func TestFacadeConvertsArgumentsOnTheCallsOwnLease(t *testing.T) {
	who, log, err := callHandedAnOpenersShell(t)
	require.NoError(t, err, "the driver converts the argument, as it does on any other connection")
	assert.Equal(t, "test:bob", who)
	assert.Equal(t, []string{"test:bob"}, log.take(), "bob's connection converted it")
}

// TestFacadeNeverChecksArgumentsOnTheDefaultIdentitysConnection: with
// WithDefaultIdentity the opener's shell holds the default identity's lease
// until the call names its own. Its arguments were checked on the default
// identity's connection, which the call then gave back: go-mssqldb's
// checker records output parameters and return status on its connection,
// where the next query of that connection's next lease would write into
// this caller's variables.
func TestFacadeNeverChecksArgumentsOnTheDefaultIdentitysConnection(t *testing.T) {
	who, log, err := callHandedAnOpenersShell(t, WithDefaultIdentity(identity("svc")))
	require.NoError(t, err)
	assert.Equal(t, "test:bob", who)
	assert.Equal(t, []string{"test:bob"}, log.take(), "only bob's connection saw bob's arguments")
}

var errValuer = errors.New("valuer refused")

type failingValuer struct{}

func (failingValuer) Value() (driver.Value, error) { return nil, errValuer }

// TestFacadeDeferredArgumentsConvertLikeDatabaseSQL: arguments converted
// on the call's lease meet what database/sql would do with them: the
// default conversion (a driver.Valuer's Value, a refusal naming the
// argument) where the driver's checker skips.
func TestFacadeDeferredArgumentsConvertLikeDatabaseSQL(t *testing.T) {
	m, _, _ := newRecordingManager(t)
	// A fresh shell: Connect's ctx carries no identity, as the opener's.
	fresh := func() *Conn {
		c, err := NewConnector(m, WithDefaultIdentity(identity("svc"))).Connect(context.Background())
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		return c.(*Conn)
	}
	fc := fresh()
	nv := driver.NamedValue{Ordinal: 1, Value: struct{}{}}
	require.NoError(t, fc.CheckNamedValue(&nv), "left for the call")
	_, err := fc.QueryContext(tokens.WithIdentity(context.Background(), identity("bob")), "SELECT IDENTITY", []driver.NamedValue{nv})
	assert.ErrorContains(t, err, "sql: converting argument $1 type: unsupported type struct {}, a struct")

	fc = fresh()
	nv = driver.NamedValue{Name: "x", Ordinal: 1, Value: failingValuer{}}
	require.NoError(t, fc.CheckNamedValue(&nv))
	_, err = fc.ExecContext(context.Background(), "SELECT 1", []driver.NamedValue{nv})
	assert.ErrorIs(t, err, errValuer)
	assert.ErrorContains(t, err, `sql: converting argument with name "x" type: `)
}

// TestFacadeShellStatementConvertsArgumentsOnTheStatementItRuns: a
// statement prepared on a shell with no identity to prepare as (sqlc's
// Prepare at start-up, on a *sql.Conn not yet bound) is prepared by its
// first call; database/sql checks that call's arguments before it. They
// are converted on the statement the call runs, by the driver connection
// the call runs on: neither left unconverted nor converted by
// database/sql's default.
func TestFacadeShellStatementConvertsArgumentsOnTheStatementItRuns(t *testing.T) {
	m, log := newCheckerManager(t)
	unbound := func() *Conn {
		c, err := NewConnector(m).Connect(context.Background())
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		return c.(*Conn)
	}
	bob := tokens.WithIdentity(context.Background(), identity("bob"))
	for _, tc := range []struct {
		arg     any
		wantErr error
	}{
		{point{1, 2}, nil},
		{failingValuer{}, errValuer},
	} {
		c := unbound()
		st, err := c.PrepareContext(context.Background(), "SELECT IDENTITY")
		require.NoError(t, err)
		assert.Equal(t, -1, st.NumInput(), "not known before it is prepared")
		nv := driver.NamedValue{Ordinal: 1, Value: tc.arg}
		require.NoError(t, st.(driver.NamedValueChecker).CheckNamedValue(&nv), "left for the call")
		log.take()
		_, err = st.(driver.StmtExecContext).ExecContext(bob, []driver.NamedValue{nv})
		if tc.wantErr != nil {
			assert.ErrorIs(t, err, tc.wantErr, "converted, so the Valuer ran")
		} else {
			assert.NoError(t, err)
		}
		assert.Equal(t, []string{"test:bob"}, log.take(), "bob's connection checked it")
		require.NoError(t, st.Close())
		require.NoError(t, c.Close())
	}
}
