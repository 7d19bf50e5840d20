package memdb_test

import (
	"context"
	"database/sql/driver"
	"testing"

	"github.com/idpool/idpool/sim/memdb"
)

// The pool's benchmarks run on memdb, so its own per-call cost must stay
// small next to the pool's. These report it; AllocsPerRun tests below pin
// the allocation counts.

func BenchmarkSelect1(b *testing.B) {
	db := memdb.New()
	c := dial(&testing.T{}, db, "msi:system", "tok")
	ctx := context.Background()
	dest := make([]driver.Value, 1)
	b.ReportAllocs()
	for b.Loop() {
		rows, err := c.QueryContext(ctx, "SELECT 1", nil)
		if err != nil {
			b.Fatal(err)
		}
		_ = rows.Next(dest)
		_ = rows.Close()
	}
}

func BenchmarkBeginInsertCommit(b *testing.B) {
	db := memdb.New()
	c := dial(&testing.T{}, db, "msi:system", "tok")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		tx, err := c.BeginTx(ctx, driver.TxOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.ExecContext(ctx, "INSERT t", nil); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDialClose(b *testing.B) {
	db := memdb.New()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c, err := db.Dial(ctx, dialReq(1))
		if err != nil {
			b.Fatal(err)
		}
		_ = c.Close()
	}
}

func BenchmarkParallelQuery(b *testing.B) {
	db := memdb.New()
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		dc, err := db.Dial(ctx, dialReq(1))
		if err != nil {
			b.Fatal(err)
		}
		c := dc.(*memdb.Conn)
		dest := make([]driver.Value, 1)
		for pb.Next() {
			_ = c.ResetSession(ctx)
			rows, err := c.QueryContext(ctx, "SELECT 1", nil)
			if err != nil {
				b.Fatal(err)
			}
			_ = rows.Next(dest)
			_ = rows.Close()
		}
		_ = c.Close()
	})
}
