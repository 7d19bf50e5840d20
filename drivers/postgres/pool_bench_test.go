package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// BenchmarkPgxNative measures what the guard costs on pgx's own calls: the
// same query on one lease and on a bare *pgx.Conn (a local server, so the
// round trip dominates), a one-shot Pool call (acquire, query, release with
// its session reset), and reading a 1,000-row result through the guarded
// rows and pgx's own.
func BenchmarkPgxNative(b *testing.B) {
	srv := pgtest.Shared(b)
	role, pwd := srv.NewRole(b, "pbench")
	id := tokenIdentity(role, pwd)
	ctx := tokens.WithIdentity(context.Background(), id)
	pool, err := postgres.OpenPool(srv.DSN("nobody", "", "postgres"), manager.Config{MaxSize: 1}, postgres.WithLoginUser(role))
	require.NoError(b, err)
	b.Cleanup(func() { _ = pool.Close() })
	bare, err := pgx.Connect(ctx, srv.DSN(role, pwd, "postgres"))
	require.NoError(b, err)
	b.Cleanup(func() { _ = bare.Close(context.Background()) })

	const many = "SELECT g, 'row ' || g FROM generate_series(1, 1000) g"
	read := func(b *testing.B, rows pgx.Rows, err error) {
		if err != nil {
			b.Fatal(err)
		}
		var n int32
		var s string
		for rows.Next() {
			if err := rows.Scan(&n, &s); err != nil {
				b.Fatal(err)
			}
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("lease/QueryRow", func(b *testing.B) {
		l, err := pool.Acquire(ctx)
		require.NoError(b, err)
		defer l.Release()
		var v int
		for b.Loop() {
			if err := l.QueryRow(ctx, "SELECT 1").Scan(&v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pgx.Conn/QueryRow", func(b *testing.B) {
		var v int
		for b.Loop() {
			if err := bare.QueryRow(ctx, "SELECT 1").Scan(&v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pool/QueryRow", func(b *testing.B) {
		var v int
		for b.Loop() {
			if err := pool.QueryRow(ctx, "SELECT 1").Scan(&v); err != nil {
				b.Fatal(err)
			}
		}
	})
	// A lease used for one query and released: the release's session
	// reset is what differs from pgx.Conn/QueryRow.
	b.Run("pool/AcquireQueryRelease", func(b *testing.B) {
		var v int
		for b.Loop() {
			l, err := pool.Acquire(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if err := l.QueryRow(ctx, "SELECT $1::int", 1).Scan(&v); err != nil {
				b.Fatal(err)
			}
			l.Release()
		}
	})
	b.Run("lease/1000rows", func(b *testing.B) {
		l, err := pool.Acquire(ctx)
		require.NoError(b, err)
		defer l.Release()
		for b.Loop() {
			rows, err := l.Query(ctx, many)
			read(b, rows, err)
		}
	})
	b.Run("pgx.Conn/1000rows", func(b *testing.B) {
		for b.Loop() {
			rows, err := bare.Query(ctx, many)
			read(b, rows, err)
		}
	})
}
