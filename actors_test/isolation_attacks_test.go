package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// Issue 11, leak 1: a *sql.Stmt prepared as A and run with B's ctx, on a
// pinned *sql.Conn (database/sql defaults) and on the *sql.DB with idle
// connections kept (SetMaxIdleConns raised), where database/sql reuses A's
// connection for B. The first must be refused naming the mismatch; the
// second must answer B.
func attackStmtAsAWithBsCtx(t *testing.T, m *manager.Manager, who string, a, b isoIdentity) {
	ctx := testCtx(t, 30*time.Second)
	ctxA, ctxB := tokens.WithIdentity(ctx, a.ID), tokens.WithIdentity(ctx, b.ID)
	t.Run("pinned_conn_defaults", func(t *testing.T) {
		db := manager.OpenDB(m)
		defer db.Close()
		conn, err := db.Conn(ctxA)
		require.NoError(t, err)
		defer conn.Close()
		st, err := conn.PrepareContext(ctxA, who)
		require.NoError(t, err)
		defer st.Close()
		var got string
		err = st.QueryRowContext(ctxB).Scan(&got)
		require.ErrorIs(t, err, manager.ErrIdentityMismatch, "answered %q", got)
		assert.NotEqual(t, "driver: bad connection", err.Error())
		require.NoError(t, st.QueryRowContext(ctxA).Scan(&got))
		assert.Equal(t, a.Login, got)
	})
	t.Run("db_stmt_idle_conns_raised", func(t *testing.T) {
		db := manager.OpenDB(m)
		defer db.Close()
		db.SetMaxIdleConns(4)
		st, err := db.PrepareContext(ctxA, who)
		require.NoError(t, err)
		defer st.Close()
		for i := range 6 {
			id, c := a, ctxA
			if i%2 == 1 {
				id, c = b, ctxB
			}
			var got string
			require.NoError(t, st.QueryRowContext(c).Scan(&got))
			require.Equal(t, id.Login, got, "call %d", i)
		}
	})
}

func TestMSSQLAttackStmtPreparedAsARunWithBsCtx(t *testing.T) {
	env := startMSSQL(t)
	a, b := env.managedIdentity(t, "atk-a"), env.servicePrincipal(t, "atk-b")
	db := env.openManager(t, manager.Config{MaxSize: 2}, nil)
	attackStmtAsAWithBsCtx(t, db.Manager, "SELECT SUSER_SNAME()", isoIdentity{a.ID, a.Login}, isoIdentity{b.ID, b.Login})
}

func TestPGAttackStmtPreparedAsARunWithBsCtx(t *testing.T) {
	srv := pgtest.Shared(t)
	prefix := fmt.Sprintf("atk%d", os.Getpid())
	var ids []isoIdentity
	var roles []string
	for range 2 {
		role, pwd := srv.NewRole(t, prefix)
		tok := tokens.Token{Value: pwd, ExpiresOn: time.Now().Add(time.Hour)}
		roles = append(roles, role)
		ids = append(ids, isoIdentity{pgIdentity(role, tokens.SourceFunc(func(context.Context) (tokens.Token, error) { return tok, nil })), role})
	}
	p := pgTokenPool(t, srv, manager.Config{MaxSize: 2}, roles...)
	attackStmtAsAWithBsCtx(t, p.db.Manager, "SELECT current_user", ids[0], ids[1])
}

// Issue 11, leak 2, on PostgreSQL: a released lease's write never lands in
// the transaction of the caller its connection now serves.
func TestPGAttackReleasedLeaseWriteNeverLandsInAnotherCallersTx(t *testing.T) {
	srv := pgtest.Shared(t)
	p := pgSQLLoginPool(t, srv, fmt.Sprintf("atkrel%d", os.Getpid()), manager.Config{MaxSize: 1, HealthCheckAfter: -1})
	ctx := pgCtx(t)
	m := p.db.Manager
	a := acquire(t, ctx, m, tokens.SQLLogin())
	pidA := pgMustPIDLease(t, ctx, a)
	stale := a.Conn()
	a.Release(nil)

	b := acquire(t, ctx, m, tokens.SQLLogin())
	require.Equal(t, pidA, pgMustPIDLease(t, ctx, b), "the same session serves b")
	require.NoError(t, leaseExec(ctx, b, "BEGIN"))
	require.NoError(t, leaseExec(ctx, b, "CREATE TEMP TABLE atk(x int)"))
	require.NoError(t, leaseExec(ctx, b, "INSERT INTO atk VALUES (1)"))

	_, err := stale.ExecContext(ctx, "INSERT INTO atk VALUES (2)", nil)
	require.ErrorIs(t, err, manager.ErrLeaseReleased)
	n, err := leaseQuery(ctx, b, "SELECT count(*) FROM atk")
	require.NoError(t, err)
	assert.EqualValues(t, 1, n, "only b's row is in b's transaction")
	require.NoError(t, leaseExec(ctx, b, "ROLLBACK"))
	b.Release(nil)
}

func pgMustPIDLease(t *testing.T, ctx context.Context, l *manager.Lease) int64 {
	t.Helper()
	v, err := leaseQuery(ctx, l, "SELECT pg_backend_pid()")
	require.NoError(t, err)
	pid, ok := v.(int64)
	if !ok {
		pid = int64(v.(int32))
	}
	return pid
}
