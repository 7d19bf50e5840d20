package postgres_test

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for plain database/sql
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// BenchmarkStmt is bench's end_to_end *sql.Stmt row as a go benchmark, for
// profiles: one *sql.Stmt (SELECT $1::int) run from 8 goroutines (on 2
// CPUs; -cpu changes it) through plain database/sql with pgx
// ("database_sql"), through the facade with the default session reset
// ("idpool"), and with WithoutSessionReset ("idpool_noreset"). 8
// connections each, one SQL login. Besides ns/op it reports the CPU time per
// operation of this process and of the server's backends (Linux).
func BenchmarkStmt(b *testing.B) {
	srv := pgtest.Shared(b)
	role, pwd := srv.NewRole(b, "stmtbench")
	dsn := srv.DSN(role, pwd, "postgres")
	const size = 8
	// open returns the *sql.DB and what closes it (the facade's Close
	// also closes its Manager; the *sql.DB's alone would not).
	type open func() (*sql.DB, func() error, error)
	facade := func(opts ...postgres.OpenOption) open {
		return func() (*sql.DB, func() error, error) {
			db, err := postgres.OpenDB(dsn, manager.Config{MaxSize: size},
				append(opts, postgres.WithFacadeOptions(manager.WithDefaultIdentity(tokens.SQLLogin())))...)
			if err != nil {
				return nil, nil, err
			}
			return db.DB, db.Close, nil
		}
	}
	for _, c := range []struct {
		name string
		open open
	}{
		{"database_sql", func() (*sql.DB, func() error, error) {
			db, err := sql.Open("pgx", dsn)
			if err != nil {
				return nil, nil, err
			}
			db.SetMaxOpenConns(size)
			db.SetMaxIdleConns(size)
			return db, db.Close, nil
		}},
		{"idpool", facade()},
		{"idpool_noreset", facade(postgres.WithoutSessionReset())},
	} {
		b.Run(c.name, func(b *testing.B) {
			db, closeDB, err := c.open()
			require.NoError(b, err)
			defer func() { require.NoError(b, closeDB()) }()
			ctx := context.Background()
			stmt, err := db.PrepareContext(ctx, "SELECT $1::int")
			require.NoError(b, err)
			defer func() { _ = stmt.Close() }()
			// Open the size connections first, and find their backends,
			// whose CPU time is the server's side of the cost.
			var n int
			conns := make([]*sql.Conn, size)
			for i := range conns {
				conns[i], err = db.Conn(ctx)
				require.NoError(b, err)
				require.NoError(b, conns[i].QueryRowContext(ctx, "SELECT 1").Scan(&n))
			}
			for _, c := range conns {
				require.NoError(b, c.Close())
			}
			pids := backendPIDs(b, srv, role)
			b.SetParallelism(size / 2)
			b.ReportAllocs()
			c0, s0, ok0 := cpuUsed(pids)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var n int
				for pb.Next() {
					if err := stmt.QueryRowContext(ctx, 1).Scan(&n); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			// CPU per operation, client and server: on a shared machine
			// it varies far less than the wall-clock ns/op does.
			if c1, s1, ok1 := cpuUsed(pids); ok0 && ok1 {
				b.ReportMetric(float64(c1-c0)/float64(b.N), "client-cpu-ns/op")
				b.ReportMetric(float64(s1-s0)/float64(b.N), "server-cpu-ns/op")
			}
		})
	}
}

// backendPIDs returns the server processes of role's sessions.
func backendPIDs(b *testing.B, srv *pgtest.Server, role string) []int {
	b.Helper()
	admin, err := sql.Open("pgx", srv.AdminDSN())
	require.NoError(b, err)
	defer func() { _ = admin.Close() }()
	rows, err := admin.Query("SELECT pid FROM pg_stat_activity WHERE usename = $1", role)
	require.NoError(b, err)
	defer func() { _ = rows.Close() }()
	var pids []int
	for rows.Next() {
		var pid int
		require.NoError(b, rows.Scan(&pid))
		pids = append(pids, pid)
	}
	require.NoError(b, rows.Err())
	return pids
}
