package postgres_test

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/manager"
)

// TestDeferredResetFallsBackForAStatementOfTheLeasesNames: a lease that
// runs a query (prepared by pgx's statement cache, or described once and
// cached where the DSN's default_query_exec_mode is cache_describe) while its names resolve
// to objects of its own, a temporary table, a search_path or a role's
// "$user" schema, leaves nothing that fails the next lease of the same
// identity on the same session: that lease's own run of the same text
// finds the objects a fresh login would, and runs. The deferred reset used
// to keep the statement, whose result columns the server fixed at its
// Parse, and the next lease's query failed with "cached plan must not
// change result type" (or, with a cached description, with the parameter
// type of the lease's table).
func TestDeferredResetFallsBackForAStatementOfTheLeasesNames(t *testing.T) {
	const q = "SELECT * FROM items WHERE id > $1"
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe} {
		for _, tc := range []struct {
			name string
			// lease1 is what the first lease runs before q; lease2 the
			// second, which then finds want columns.
			lease1, lease2 []string
			want           int
		}{
			{"temporary table",
				[]string{"CREATE TEMP TABLE items (id int)"},
				[]string{"CREATE TEMP TABLE items (id int, name text, note text)"}, 3},
			{"temporary table of other types",
				[]string{"CREATE TEMP TABLE items (id text)"}, nil, 2},
			{"search_path", []string{"SET search_path = tenant1"}, nil, 2},
			{"SET SCHEMA", []string{"SET SCHEMA 'tenant1'"}, nil, 2},
			{"role's $user schema", []string{"SET ROLE %s"}, nil, 2},
		} {
			t.Run(mode.String()+"/"+tc.name, func(t *testing.T) {
				e := newPgxEnvNoPool(t)
				pool, err := postgres.OpenPool(e.dsn+"&default_query_exec_mode="+strings.ReplaceAll(mode.String(), " ", "_"), manager.Config{MaxSize: 1},
					postgres.WithUser(roleOf))
				require.NoError(t, err)
				t.Cleanup(func() { require.NoError(t, pool.Close()) })
				e.pool = pool
				ctx := as(t, e.alice)
				other, _ := e.srv.NewRole(t, "presolve")
				e.srv.Exec(t, "GRANT "+other+" TO "+e.aliceRole)
				e.createItems(t) // public.items (id, name)
				for _, sql := range []string{
					"CREATE SCHEMA tenant1 CREATE TABLE items (id int)",
					"CREATE SCHEMA " + other + " AUTHORIZATION " + other,
					"CREATE TABLE " + other + ".items (id int)",
					"ALTER TABLE " + other + ".items OWNER TO " + other,
				} {
					_, err := e.pool.Exec(ctx, sql)
					require.NoError(t, err, sql)
				}

				run := func(setup []string) (pid int32, cols int) {
					require.NoError(t, e.pool.AcquireFunc(ctx, func(l *postgres.Lease) error {
						pid = backendPID(t, ctx, l)
						for _, sql := range setup {
							if sql == "SET ROLE %s" {
								sql = "SET ROLE " + other
							}
							if _, err := l.Exec(ctx, sql); err != nil {
								return err
							}
						}
						rows, err := l.Query(ctx, q, "0")
						if err != nil {
							return err
						}
						rows.Close()
						cols = len(rows.FieldDescriptions())
						return rows.Err()
					}))
					return pid, cols
				}
				pid1, cols1 := run(tc.lease1)
				require.Equal(t, 1, cols1, "the first lease's items")
				pid2, cols2 := run(tc.lease2)
				assert.Equal(t, pid1, pid2, "the same session")
				assert.Equal(t, tc.want, cols2, "the second lease's items, as a fresh login finds them")
			})
		}
	}
}

// TestFacadeTenantSearchPathLeavesTheNextCallUnharmed: the schema-per-tenant
// idiom through the *sql.DB facade, as a user writes it: a *sql.Conn sets
// its tenant's search_path and queries; the next call of the same identity,
// on the same session, runs the same query text on the login's search_path.
func TestFacadeTenantSearchPathLeavesTheNextCallUnharmed(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1})
	db, err := postgres.OpenDB(e.dsn, manager.Config{MaxSize: 1}, postgres.WithUser(roleOf))
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	ctx := as(t, e.alice)
	e.createItems(t)
	_, err = e.pool.Exec(ctx, "CREATE SCHEMA tenant1 CREATE TABLE items (id int)")
	require.NoError(t, err)
	const q = "SELECT * FROM items WHERE id > $1"

	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	var pid1 int32
	require.NoError(t, conn.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid1))
	_, err = conn.ExecContext(ctx, "SET search_path = tenant1")
	require.NoError(t, err)
	rows, err := conn.QueryContext(ctx, q, 0)
	require.NoError(t, err)
	cols, err := rows.Columns()
	require.NoError(t, err)
	require.Equal(t, []string{"id"}, cols, "tenant1's items")
	require.NoError(t, rows.Close())
	require.NoError(t, conn.Close())

	var pid2 int32
	require.NoError(t, db.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid2))
	require.Equal(t, pid1, pid2, "the same session")
	rows, err = db.QueryContext(ctx, q, 0)
	require.NoError(t, err, "the next call runs as on a fresh login")
	cols, err = rows.Columns()
	require.NoError(t, err)
	assert.Equal(t, []string{"id", "name"}, cols, "public's items")
	require.NoError(t, rows.Close())
	require.NoError(t, rows.Err())
}
