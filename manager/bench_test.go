package manager

import (
	"context"
	"database/sql"
	"testing"

	"github.com/idpool/idpool/sim/memdb"
)

// The hot path: a warm pool, one identity, acquire and release with no work.
// bench/ compares this with other pools; this one is here for profiling.
func BenchmarkAcquireRelease(b *testing.B) {
	m := newBenchManager(b)
	ctx := context.Background()
	id := identity("bench")
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l, err := m.Acquire(ctx, id)
			if err != nil {
				b.Error(err)
				return
			}
			l.Release(nil)
		}
	})
}

func BenchmarkDatabaseSQLConnClose(b *testing.B) {
	db := sql.OpenDB(memdb.New().Connector("bench"))
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	defer db.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c, err := db.Conn(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			c.Close()
		}
	})
}

// benchParallelism is goroutines per GOMAXPROCS in the benchmarks above.
var benchParallelism = 4

// BenchmarkAcquireReleaseSerial is the hot path from one goroutine: every
// send finds the pool's mailbox idle, so the whole pair runs on the
// caller's goroutine and the profile shows idpool's own work alone.
func BenchmarkAcquireReleaseSerial(b *testing.B) {
	m := newBenchManager(b)
	ctx := context.Background()
	id := identity("bench")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		l, err := m.Acquire(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		l.Release(nil)
	}
}

// newBenchManager is the hot path benchmarks' Manager: memdb, MaxSize 8, no
// health checks, closed when the benchmark ends.
func newBenchManager(b *testing.B) *Manager {
	m, err := New(Config{Server: "memdb:1/bench", Dialer: memdb.New(), MaxSize: 8, HealthCheckAfter: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}
