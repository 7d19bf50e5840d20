package e2e

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// leaseUserOptions reads DBCC USEROPTIONS on a leased connection.
func leaseUserOptions(ctx context.Context, l *manager.Lease) (map[string]string, error) {
	rows, err := l.Conn().QueryContext(ctx, "DBCC USEROPTIONS", nil)
	if errors.Is(err, driver.ErrSkip) {
		var stmt driver.Stmt
		if stmt, err = l.Conn().PrepareContext(ctx, "DBCC USEROPTIONS"); err != nil {
			return nil, err
		}
		defer stmt.Close()
		rows, err = stmt.(driver.StmtQueryContext).QueryContext(ctx, nil)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	dest := make([]driver.Value, 2)
	for {
		switch err := rows.Next(dest); err {
		case nil:
			out[dest[0].(string)] = dest[1].(string)
		case io.EOF:
			return out, nil
		default:
			return nil, err
		}
	}
}

// sessionStateKinds are the kinds of session state a lease can leave on a
// SQL Server session beyond a transaction, NOCOUNT and temporary tables
// (TestMSSQLResetThroughLease): each is set by one lease and must be gone
// for the next lease of the same session.
var sessionStateKinds = []struct {
	name string
	set  string
	// read answers the state's value; want is a new session's.
	read func(ctx context.Context, l *manager.Lease) (any, error)
	want any
}{
	{"isolation level", "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", userOption("isolation level"), "read committed"},
	{"lock timeout", "SET LOCK_TIMEOUT 250", scalar("SELECT @@LOCK_TIMEOUT"), int64(-1)},
	{"xact_abort", "SET XACT_ABORT ON", userOption("xact_abort"), ""},
	{"arithabort", "SET ARITHABORT ON", userOption("arithabort"), ""},
	{"context_info", "SET CONTEXT_INFO 0x1D7E0A", scalar("SELECT CONTEXT_INFO()"), nil},
	{"session_context", "EXEC sp_set_session_context N'tenant', N'contoso'", scalar("SELECT SESSION_CONTEXT(N'tenant')"), nil},
	{"read-only session_context", "EXEC sp_set_session_context @key = N'tenant', @value = N'contoso', @read_only = 1",
		scalar("SELECT SESSION_CONTEXT(N'tenant')"), nil},
}

func userOption(name string) func(context.Context, *manager.Lease) (any, error) {
	return func(ctx context.Context, l *manager.Lease) (any, error) {
		o, err := leaseUserOptions(ctx, l)
		return o[name], err
	}
}

func scalar(q string) func(context.Context, *manager.Lease) (any, error) {
	return func(ctx context.Context, l *manager.Lease) (any, error) { return leaseQuery(ctx, l, q) }
}

// TestMSSQLSessionStateNeverReachesTheNextLease: SET options, CONTEXT_INFO
// and SESSION_CONTEXT a lease sets are gone for the next lease of the same
// session (sim/tds resets them as sp_reset_connection does, on the
// RESETCONNECTION that go-mssqldb sends after Release's ResetSession).
func TestMSSQLSessionStateNeverReachesTheNextLease(t *testing.T) {
	env := startMSSQL(t)
	id := env.managedIdentity(t, "state")
	db := env.openManager(t, manager.Config{MaxSize: 1}, nil)
	ctx := testCtx(t, 30*time.Second)

	var spid any
	for _, k := range sessionStateKinds {
		l := acquire(t, ctx, db.Manager, id.ID)
		s, err := leaseQuery(ctx, l, "SELECT @@SPID")
		require.NoError(t, err)
		if spid == nil {
			spid = s
		}
		require.Equal(t, spid, s, "%s: the same session throughout", k.name)
		require.NoError(t, leaseExec(ctx, l, k.set), k.name)
		got, err := k.read(ctx, l)
		require.NoError(t, err, k.name)
		require.NotEqual(t, k.want, got, "%s: the lease sees what it set", k.name)
		l.Release(nil)

		l = acquire(t, ctx, db.Manager, id.ID)
		got, err = k.read(ctx, l)
		require.NoError(t, err, k.name)
		assert.Equal(t, k.want, got, "%s crossed the release", k.name)
		s, err = leaseQuery(ctx, l, "SELECT @@SPID")
		require.NoError(t, err)
		require.Equal(t, spid, s, "%s: the same session throughout", k.name)
		l.Release(nil)
	}
	assert.EqualValues(t, 1, db.Manager.Stats().Total.Opens)
}

// TestMSSQLFacadeSessionStateStaysWithItsCall: through the *sql.DB facade
// each call is a lease: what one call sets (SET options, CONTEXT_INFO,
// SESSION_CONTEXT, an isolation level given to BeginTx) is gone for the
// next call on the same session, while a *sql.Conn keeps its session's
// state for all its calls, as on a plain *sql.DB.
func TestMSSQLFacadeSessionStateStaysWithItsCall(t *testing.T) {
	env := startMSSQL(t)
	id := env.managedIdentity(t, "facade-state")
	db := env.openDB(t, manager.Config{MaxSize: 1})
	ctx := tokens.WithIdentity(testCtx(t, 30*time.Second), id.ID)

	type state struct {
		spid        int64
		lockTimeout int64
		contextInfo []byte
		tenant      any
	}
	read := func(q interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}) (st state) {
		t.Helper()
		require.NoError(t, q.QueryRowContext(ctx, "SELECT @@SPID, @@LOCK_TIMEOUT, CONTEXT_INFO(), SESSION_CONTEXT(N'tenant')").
			Scan(&st.spid, &st.lockTimeout, &st.contextInfo, &st.tenant))
		return st
	}
	isolation := func(q interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	}) string {
		t.Helper()
		rows, err := q.QueryContext(ctx, "DBCC USEROPTIONS")
		require.NoError(t, err)
		defer rows.Close()
		level := ""
		for rows.Next() {
			var k, v string
			require.NoError(t, rows.Scan(&k, &v))
			if k == "isolation level" {
				level = v
			}
		}
		require.NoError(t, rows.Err())
		return level
	}
	const set = `SET LOCK_TIMEOUT 250; SET CONTEXT_INFO 0x1D7E0A; SET TRANSACTION ISOLATION LEVEL SNAPSHOT;
		EXEC sp_set_session_context N'tenant', N'contoso', 1`

	first := read(db)
	_, err := db.ExecContext(ctx, set)
	require.NoError(t, err)
	after := read(db)
	require.Equal(t, first.spid, after.spid, "the same session")
	assert.Equal(t, state{spid: first.spid, lockTimeout: -1}, after, "state set by one call reached the next")
	assert.Equal(t, "read committed", isolation(db))

	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
	require.NoError(t, err)
	assert.Equal(t, "serializable", isolation(tx))
	require.NoError(t, tx.Commit())
	assert.Equal(t, "read committed", isolation(db), "BeginTx's isolation level reached the next call")

	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, set)
	require.NoError(t, err)
	assert.Equal(t, state{spid: first.spid, lockTimeout: 250, contextInfo: []byte{0x1D, 0x7E, 0x0A}, tenant: "contoso"}, read(conn),
		"a *sql.Conn keeps its session's state between its calls")
	assert.Equal(t, "snapshot", isolation(conn))
	require.NoError(t, conn.Close())
	assert.Equal(t, state{spid: first.spid, lockTimeout: -1}, read(db), "the *sql.Conn's state outlived it")
}

// TestMSSQLImpersonationIsNeverHandedOn: a lease that runs EXECUTE AS and
// never REVERTs leaves a session SQL Server cannot reset: the reset fails
// (error 18059) and the server ends the session. The next lease of it must
// never run a statement as the impersonated principal, and the pool must
// close the session and serve its later leases on a new one.
func TestMSSQLImpersonationIsNeverHandedOn(t *testing.T) {
	env := startMSSQL(t)
	id := env.managedIdentity(t, "execas")
	db := env.openManager(t, manager.Config{MaxSize: 1}, nil)
	ctx := testCtx(t, 30*time.Second)

	l := acquire(t, ctx, db.Manager, id.ID)
	require.NoError(t, leaseExec(ctx, l, "EXECUTE AS LOGIN = 'mallory'"))
	who, err := leaseQuery(ctx, l, "SELECT SUSER_SNAME()")
	require.NoError(t, err)
	require.Equal(t, "mallory", who)
	l.Release(nil)

	l = acquire(t, ctx, db.Manager, id.ID)
	who, err = leaseQuery(ctx, l, "SELECT SUSER_SNAME()")
	require.Error(t, err, "the next lease ran as %v", who)
	var me mssql.Error
	require.True(t, errors.As(err, &me), "%T: %v", err, err)
	assert.EqualValues(t, 18059, me.Number)
	l.Release(err)
	assert.Equal(t, 1, env.tds.ResetsRefused())

	// The next lease gets a session that works, as the identity.
	l = acquire(t, ctx, db.Manager, id.ID)
	who, err = leaseQuery(ctx, l, "SELECT SUSER_SNAME()")
	require.NoError(t, err, "the lease after the refused reset got the dead session")
	assert.Equal(t, id.Login, who)
	l.Release(nil)
	assert.EqualValues(t, 2, db.Manager.Stats().Total.Opens)
}

// TestMSSQLFacadeImpersonationIsNeverHandedOn: the same through the *sql.DB
// facade: a *sql.Conn left under EXECUTE AS makes the server refuse the
// reset in front of the next call on its session (error 18059: the call
// never runs); the facade reports that as driver.ErrBadConn, so database/sql
// runs the call again on a new session, as the ctx's identity, and the
// caller sees no error.
func TestMSSQLFacadeImpersonationIsNeverHandedOn(t *testing.T) {
	env := startMSSQL(t)
	id := env.managedIdentity(t, "facade-execas")
	db := env.openDB(t, manager.Config{MaxSize: 1})
	ctx := tokens.WithIdentity(testCtx(t, 30*time.Second), id.ID)

	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "EXECUTE AS USER = 'reporting'")
	require.NoError(t, err)
	var who string
	require.NoError(t, conn.QueryRowContext(ctx, "SELECT USER_NAME()").Scan(&who))
	require.Equal(t, "reporting", who)
	require.NoError(t, conn.Close())

	var login, user string
	require.NoError(t, db.QueryRowContext(ctx, "SELECT SUSER_SNAME(), USER_NAME()").Scan(&login, &user),
		"database/sql ran the call again on a new session")
	assert.Equal(t, [2]string{id.Login, "dbo"}, [2]string{login, user}, "never as the impersonated user")
	assert.Equal(t, 1, env.tds.ResetsRefused(), "the first session's reset was refused")
	assert.EqualValues(t, 2, db.Manager.Stats().Total.Opens, "the refused session was replaced")
}
