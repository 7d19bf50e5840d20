package tds_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkSelect1 measures one query round trip on an open session.
func BenchmarkSelect1(b *testing.B) {
	srv := startServer(b)
	db := openDB(b, sqlDSN(srv, "alice", alicePassword, ""))
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	var one int
	require.NoError(b, db.QueryRowContext(ctx, "SELECT 1").Scan(&one))
	b.ReportAllocs()
	for b.Loop() {
		if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTokenLogin measures a physical connection: TCP, PRELOGIN, LOGIN7
// with a JWT verified by the server, and close.
func BenchmarkTokenLogin(b *testing.B) {
	srv := startServer(b)
	db := openTokenDB(b, srv, mintToken(b, testKey, "bench@contoso.test", timeInAnHour()))
	db.SetMaxIdleConns(0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := db.PingContext(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(srv.TotalLogins())/float64(b.N), "logins/op")
}
