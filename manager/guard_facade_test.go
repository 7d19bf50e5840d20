package manager

import (
	"context"
	"database/sql"
	"testing"

	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFacadeStmtPreparedOnAPinnedConnNeverRunsAsAnotherIdentity(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 2})
	db := openFacade(t, m) // database/sql defaults
	conn, err := db.Conn(as("alice"))
	require.NoError(t, err)
	defer conn.Close()
	stmt, err := conn.PrepareContext(as("alice"), "SELECT IDENTITY")
	require.NoError(t, err)
	defer stmt.Close()

	var who string
	err = stmt.QueryRowContext(as("bob")).Scan(&who)
	require.ErrorIs(t, err, ErrIdentityMismatch, "ran as %q", who)
	assert.NotContains(t, err.Error(), "bad connection")
	_, err = stmt.ExecContext(as("bob"))
	require.ErrorIs(t, err, ErrIdentityMismatch)
	require.ErrorIs(t, conn.QueryRowContext(as("bob"), "SELECT IDENTITY").Scan(&who), ErrIdentityMismatch)

	// The *sql.Conn is bound: its own identity and a ctx without one run.
	require.NoError(t, stmt.QueryRowContext(as("alice")).Scan(&who))
	assert.Equal(t, "test:alice", who)
	require.NoError(t, stmt.QueryRowContext(context.Background()).Scan(&who))
	assert.Equal(t, "test:alice", who)
	require.NoError(t, conn.PingContext(context.Background()))
}

func TestFacadeTxRunsOnItsLeaseAndRefusesAnotherIdentity(t *testing.T) {
	m, mem := newManager(t, Config{MaxSize: 2})
	db := openFacade(t, m)
	tx, err := db.BeginTx(as("alice"), nil)
	require.NoError(t, err)
	var who string
	require.NoError(t, tx.QueryRowContext(context.Background(), "SELECT IDENTITY").Scan(&who), "a plain ctx runs on the transaction's lease")
	assert.Equal(t, "test:alice", who)
	_, err = tx.ExecContext(as("bob"), "INSERT t")
	require.ErrorIs(t, err, ErrIdentityMismatch)
	stmt, err := db.PrepareContext(as("alice"), "INSERT t")
	require.NoError(t, err)
	defer stmt.Close()
	_, err = tx.StmtContext(as("bob"), stmt).ExecContext(as("bob"))
	require.ErrorIs(t, err, ErrIdentityMismatch)
	_, err = tx.StmtContext(as("alice"), stmt).ExecContext(as("alice"))
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	assert.Equal(t, 1, mem.CommittedRows("t"), "only alice's insert, once")
}

// With SetMaxIdleConns raised database/sql offers its idle connections to
// every caller; ResetSession must refuse those of another identity.
func TestFacadeDBStmtWithIdleConnsRaisedRunsAsEachCaller(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 2})
	for _, tc := range []struct {
		name      string
		idle, max int
	}{{"idle", 4, 0}, {"open", 0, 1}, {"both", 2, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			db := openFacade(t, m)
			db.SetMaxIdleConns(tc.idle)
			db.SetMaxOpenConns(tc.max)
			stmt, err := db.PrepareContext(as("alice"), "SELECT IDENTITY")
			require.NoError(t, err)
			defer stmt.Close()
			for i := range 30 {
				name := []string{"alice", "bob", "carol"}[i%3]
				var who string
				require.NoError(t, stmt.QueryRowContext(as(name)).Scan(&who))
				require.Equal(t, "test:"+name, who, "call %d", i)
				require.NoError(t, db.QueryRowContext(as(name), "SELECT IDENTITY").Scan(&who))
				require.Equal(t, "test:"+name, who, "call %d", i)
			}
		})
	}
}

func TestFacadeWithoutIdentityIsRefusedAPooledConnection(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 2})
	db := openFacade(t, m)
	db.SetMaxIdleConns(2)
	var who string
	require.NoError(t, db.QueryRowContext(as("alice"), "SELECT IDENTITY").Scan(&who))
	require.Equal(t, 1, db.Stats().Idle)
	err := db.QueryRowContext(context.Background(), "SELECT IDENTITY").Scan(&who)
	require.ErrorIs(t, err, tokens.ErrNoIdentity)
	assert.Equal(t, "idpool: no identity (use tokens.WithIdentity on the ctx)", err.Error())

	withDefault := openFacade(t, m, WithDefaultIdentity(identity("svc")))
	withDefault.SetMaxIdleConns(2)
	require.NoError(t, withDefault.QueryRowContext(as("alice"), "SELECT IDENTITY").Scan(&who))
	require.NoError(t, withDefault.QueryRowContext(context.Background(), "SELECT IDENTITY").Scan(&who))
	assert.Equal(t, "test:svc", who, "a pooled connection of alice is not the default identity's")
}

func TestFacadeRowsAfterTheirConnIsReleasedFail(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1})
	db := openFacade(t, m)
	conn, err := db.Conn(as("alice"))
	require.NoError(t, err)
	var l *Lease
	require.NoError(t, conn.Raw(func(dc any) error { l = dc.(*Conn).Lease(); return nil }))
	rows, err := conn.QueryContext(as("alice"), "SELECT IDENTITY")
	require.NoError(t, err)
	l.Release(nil) // a careless caller reaching under database/sql
	assert.False(t, rows.Next())
	require.ErrorIs(t, rows.Err(), ErrLeaseReleased)
	_ = rows.Close()
	_ = conn.Close()
	var _ *sql.Conn = conn
}

// A connection database/sql keeps idle, with nothing of its own prepared on
// it, is rebound at the hand-over: its lease goes back to its identity's
// pool and one of the caller's identity takes its place, so the call needs
// no retry.
func TestFacadeHandOverRebindsAnIdleConnectionToTheCallersIdentity(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 2})
	db := openFacade(t, m)
	db.SetMaxIdleConns(1)
	db.SetMaxOpenConns(1)
	for i := range 20 {
		name := []string{"alice", "bob"}[i%2]
		var who string
		require.NoError(t, db.QueryRowContext(as(name), "SELECT IDENTITY").Scan(&who))
		require.Equal(t, "test:"+name, who)
	}
	st := db.Stats()
	assert.Equal(t, 1, st.OpenConnections)
	assert.Zero(t, st.MaxIdleClosed+st.MaxLifetimeClosed, "nothing discarded")
	assert.Equal(t, 2, m.Stats().Pools)
	assert.Zero(t, m.Stats().Total.Busy, "database/sql's idle connection holds no lease (IsValid gave it back)")
}

// database/sql's connection opener connects with a ctx of its own (no
// identity) and hands the connection to a waiting call: bound to the default
// identity, it is rebound at its first call to that call's identity, and
// from then on refuses any other.
func TestFacadeConnectionOpenedWithoutIdentityServesItsFirstCallersIdentity(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 2})
	for _, opts := range [][]FacadeOption{nil, {WithDefaultIdentity(identity("svc"))}} {
		dc, err := NewConnector(m, opts...).Connect(context.Background())
		require.NoError(t, err)
		c := dc.(*Conn)
		who := func(ctx context.Context) (string, error) {
			rows, err := c.QueryContext(ctx, "SELECT IDENTITY", nil)
			if err != nil {
				return "", err
			}
			return firstString(t, rows), nil
		}
		got, err := who(as("alice"))
		require.NoError(t, err)
		assert.Equal(t, "test:alice", got)
		_, err = who(as("bob"))
		require.ErrorIs(t, err, ErrIdentityMismatch)
		got, err = who(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "test:alice", got, "bound: a ctx without identity runs on its lease")
		require.NoError(t, c.Close())
	}
	eventually(t, func() bool { return m.Stats().Total.Busy == 0 }, "every lease back")
}
