package manager

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestAMetricsCollectionIsBoundedByItsCtxWithALoggerThatBlocks: idpool's
// metrics callback read the figures with Stats, which waits for every
// actor's answer with no bound, so a Logger handler that blocks inside a
// pool actor (Config.Logger says it holds that actor up) held the SDK's
// collection past its ctx, for as long as it blocked: the periodic reader's
// export timeout, and every later collection, with it. The callback now
// gives up on the figures when the collection's ctx ends, and says so.
func TestAMetricsCollectionIsBoundedByItsCtxWithALoggerThatBlocks(t *testing.T) {
	g := newGate()
	defer g.open()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { require.NoError(t, mp.Shutdown(context.Background())) }()
	m, db := newManagerNoCleanup(t, Config{HealthCheckAfter: -1, MeterProvider: mp,
		Logger: slog.New(&blockOn{msg: "idpool: connection closed", g: g})})
	l := acquire(t, m, sqlLogin)
	released := make(chan struct{})
	go func() { defer close(released); l.Release(errBad) }()
	<-g.entered // the pool actor is held by the handler

	ctx, cancel := hostileCtx()
	defer cancel()
	collected := make(chan error, 1)
	go func() {
		var rm metricdata.ResourceMetrics
		collected <- reader.Collect(ctx, &rm)
	}()
	select {
	case err := <-collected:
		assert.ErrorIs(t, err, context.DeadlineExceeded, "the collection says it missed the figures")
	case <-time.After(hostileBound):
		g.open()
		<-collected
		t.Fatal("a metrics collection was held past its ctx by a Logger handler that blocks")
	}
	g.open()
	<-released
	eventually(t, func() bool { return db.OpenNow() == 0 }, "closed once the handler returns")
	require.NoError(t, m.Close(context.Background()))
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm), "collections answer again")
}
