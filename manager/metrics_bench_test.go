package manager

import (
	"context"
	"testing"

	"github.com/idpool/idpool/sim/memdb"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// BenchmarkAcquireReleaseMetrics is BenchmarkAcquireRelease with an
// OpenTelemetry SDK MeterProvider set (a manual reader, never collected):
// the metrics' cost on the hot path is the difference between the two.
func BenchmarkAcquireReleaseMetrics(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	benchAcquireRelease(b, Config{MeterProvider: mp})
}

// benchAcquireRelease runs acquire+release of one warm identity pool on
// benchParallelism goroutines per core, with cfg's observability options.
func benchAcquireRelease(b *testing.B, cfg Config) {
	cfg.Server, cfg.Dialer, cfg.MaxSize, cfg.HealthCheckAfter = "memdb:1/bench", memdb.New(), 8, -1
	m, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(context.Background())
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

// BenchmarkAcquireReleaseMetricsPerPool: as above, with per-pool series.
func BenchmarkAcquireReleaseMetricsPerPool(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	benchAcquireRelease(b, Config{MeterProvider: mp, MetricsPerPool: true})
}

// BenchmarkAcquireReleaseMetricsUseTime: with use_time, the one histogram
// recorded on a pool hit's path (opt-in for that reason).
func BenchmarkAcquireReleaseMetricsUseTime(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	benchAcquireRelease(b, Config{MeterProvider: mp, MetricsUseTime: true})
}

// BenchmarkAcquireReleaseTracing: with an SDK TracerProvider sampling every
// span and exporting none, what an idpool.acquire span costs a pool hit.
func BenchmarkAcquireReleaseTracing(b *testing.B) {
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	benchAcquireRelease(b, Config{TracerProvider: tp})
}

// BenchmarkSDKHistogramRecord is what recording one acquire's wait time
// costs in the OpenTelemetry SDK (one Float64Histogram.Record with an
// attribute set built once, as idpool records it): the part of the metrics
// scenario's overhead that grows with the share of acquires that queue.
func BenchmarkSDKHistogramRecord(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	h, err := mp.Meter("bench").Float64Histogram("db.client.connection.wait_time")
	if err != nil {
		b.Fatal(err)
	}
	set := attribute.NewSet(attribute.String("db.client.connection.pool.name", "memdb:1/bench"), attribute.String("idpool.identity.kind", "managed"))
	opts := []metric.RecordOption{metric.WithAttributeSet(set)}
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.Record(context.Background(), 0.001, opts...)
		}
	})
}
