package integration

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// The code below has the shape sqlc generates with emit_prepared_queries:
// true (db.go and a query file), for two queries; sqlc writes the query
// text for its engine, here chosen by the rig's driver.

// DBTX is what sqlc's code runs on: a *sql.DB, *sql.Conn or *sql.Tx.
type DBTX interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
	PrepareContext(context.Context, string) (*sql.Stmt, error)
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

// sqlcQueries is the query text sqlc would have generated for one engine.
type sqlcQueries struct{ whoAmI, echo string }

var sqlcText = map[string]sqlcQueries{
	"sqlserver": {whoAmI: "SELECT SUSER_SNAME()", echo: "SELECT @p1"},
	"pgx":       {whoAmI: "SELECT current_user::text", echo: "SELECT $1::text"},
}

// Queries is sqlc's generated type.
type Queries struct {
	db         DBTX
	tx         *sql.Tx
	text       sqlcQueries
	whoAmIStmt *sql.Stmt
	echoStmt   *sql.Stmt
}

// Prepare is sqlc's: it prepares every query on db, typically at start-up.
func Prepare(ctx context.Context, db DBTX, text sqlcQueries) (*Queries, error) {
	q := Queries{db: db, text: text}
	var err error
	if q.whoAmIStmt, err = db.PrepareContext(ctx, text.whoAmI); err != nil {
		return nil, fmt.Errorf("error preparing query WhoAmI: %w", err)
	}
	if q.echoStmt, err = db.PrepareContext(ctx, text.echo); err != nil {
		return nil, fmt.Errorf("error preparing query Echo: %w", err)
	}
	return &q, nil
}

// Close is sqlc's.
func (q *Queries) Close() error {
	var err error
	if q.whoAmIStmt != nil {
		err = errors.Join(err, q.whoAmIStmt.Close())
	}
	if q.echoStmt != nil {
		err = errors.Join(err, q.echoStmt.Close())
	}
	return err
}

// queryRow is sqlc's: a transaction runs the prepared statement through
// tx.StmtContext, on every call.
func (q *Queries) queryRow(ctx context.Context, stmt *sql.Stmt, query string, args ...any) *sql.Row {
	switch {
	case stmt != nil && q.tx != nil:
		return q.tx.StmtContext(ctx, stmt).QueryRowContext(ctx, args...)
	case stmt != nil:
		return stmt.QueryRowContext(ctx, args...)
	default:
		return q.db.QueryRowContext(ctx, query, args...)
	}
}

// WithTx is sqlc's.
func (q *Queries) WithTx(tx *sql.Tx) *Queries {
	return &Queries{db: tx, tx: tx, text: q.text, whoAmIStmt: q.whoAmIStmt, echoStmt: q.echoStmt}
}

// WhoAmI is a generated :one query.
func (q *Queries) WhoAmI(ctx context.Context) (string, error) {
	var who string
	err := q.queryRow(ctx, q.whoAmIStmt, q.text.whoAmI).Scan(&who)
	return who, err
}

// Echo is a generated :one query with a parameter.
func (q *Queries) Echo(ctx context.Context, s string) (string, error) {
	var out string
	err := q.queryRow(ctx, q.echoStmt, q.text.echo, s).Scan(&out)
	return out, err
}

// TestSQLCPreparedQueries: sqlc's Prepare at start-up, with a ctx that
// names nobody, then each call as its ctx's identity; in a transaction
// (WithTx) calls run on its lease, and another identity is refused.
func TestSQLCPreparedQueries(t *testing.T) {
	servers(t, func(t *testing.T, r *rig) {
		ctx := testCtx(t)
		q, err := Prepare(context.Background(), r.db.DB, sqlcText[r.driverName])
		require.NoError(t, err)
		defer func() { require.NoError(t, q.Close()) }()
		assert.Zero(t, r.db.Manager.Stats().Total.Acquires, "Prepare with no identity touched no session")

		for range 3 {
			for _, c := range []struct {
				id    tokens.Identity
				login string
			}{{r.alice, r.aliceLogin}, {r.bob, r.bobLogin}} {
				who, err := q.WhoAmI(as(ctx, c.id))
				require.NoError(t, err)
				assert.Equal(t, c.login, who)
				echo, err := q.Echo(as(ctx, c.id), "hi "+c.login)
				require.NoError(t, err)
				assert.Equal(t, "hi "+c.login, echo)
			}
		}
		_, err = q.WhoAmI(ctx)
		assert.ErrorIs(t, err, tokens.ErrNoIdentity)

		tx, err := r.db.BeginTx(as(ctx, r.bob), nil)
		require.NoError(t, err)
		qtx := q.WithTx(tx)
		who, err := qtx.WhoAmI(ctx)
		require.NoError(t, err, "a plain ctx runs on the transaction's lease")
		assert.Equal(t, r.bobLogin, who)
		_, err = qtx.Echo(as(ctx, r.alice), "x")
		assert.ErrorIs(t, err, manager.ErrIdentityMismatch)
		require.NoError(t, tx.Commit())
	})
}

// TestPreparedStatementOutlivesItsSQLStmtOnPostgres: database/sql
// prepares a *sql.DB-level statement on each connection it picks and closes
// it with the connection, and the facade picks a new one for every call. On
// a lease (a *sql.Conn here, so that the server's view can be read), the same
// happens as prepare, run, close, N times: the server must hold one
// statement, prepared once and run N times. Before pgx's cache served the
// facade's statements, each Close deallocated it (a round trip) and each
// prepare parsed it again (another), so the server's statement had run once.
func TestPreparedStatementOutlivesItsSQLStmtOnPostgres(t *testing.T) {
	r := startPG(t, pgtest.Shared(t))
	ctx := testCtx(t)
	const query = "SELECT $1::text"
	conn, err := r.db.Conn(as(ctx, r.alice))
	require.NoError(t, err)
	defer conn.Close()
	const n = 10
	for i := range n {
		stmt, err := conn.PrepareContext(ctx, query)
		require.NoError(t, err)
		var got string
		require.NoError(t, stmt.QueryRowContext(ctx, fmt.Sprint(i)).Scan(&got))
		assert.Equal(t, fmt.Sprint(i), got)
		require.NoError(t, stmt.Close())
	}
	var statements, executions int
	require.NoError(t, conn.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(generic_plans + custom_plans), 0)
		FROM pg_prepared_statements WHERE statement = $1`, query).Scan(&statements, &executions))
	assert.Equal(t, 1, statements, "one server statement for the query text")
	assert.Equal(t, n, executions, "prepared once, run every time")
}
