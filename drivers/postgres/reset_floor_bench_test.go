package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/pgtest"
)

// BenchmarkResetFloor is the minimal experiment behind docs/BENCHMARKS.md's
// PostgreSQL end-to-end figures: what a session reset of DISCARD ALL's
// strength costs the server, with no pool, no facade and no extra round
// trip. Each goroutine has a bare *pgx.Conn of its own and sends SELECT 1,
// alone ("select1") or behind the reset's statements in the same simple
// Query message ("reset+select1", the cheapest one-message form of the
// reset: the deferred reset sends the same work, plus its check of
// SQL-level prepared statements, ahead of the next request). Run with
// -cpu to pick the goroutines; on the 2-core machine the server shares the
// CPUs, so the ratio of the two is the ceiling of idpool's end-to-end
// PostgreSQL ratio against plain database/sql, which resets nothing.
func BenchmarkResetFloor(b *testing.B) {
	const reset = "SET exit_on_error = on; SET statement_timeout = 0; SET lock_timeout = 0; " +
		"CLOSE ALL; UNLISTEN *; DISCARD TEMP; DISCARD SEQUENCES; SET SESSION AUTHORIZATION DEFAULT; " +
		"RESET ROLE; SELECT pg_catalog.pg_advisory_unlock_all(); RESET ALL; "
	srv := pgtest.Shared(b)
	role, pwd := srv.NewRole(b, "rfloor")
	for _, c := range []struct{ name, sql string }{{"select1", "SELECT 1"}, {"reset+select1", reset + "SELECT 1"}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetParallelism(4) // 4 x GOMAXPROCS connections, as the end-to-end row's 8 goroutines on 2 CPUs
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				conn, err := pgx.Connect(ctx, srv.DSN(role, pwd, "postgres"))
				require.NoError(b, err)
				defer func() { _ = conn.Close(ctx) }()
				for pb.Next() {
					if _, err := conn.PgConn().Exec(ctx, c.sql).ReadAll(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
