package manager

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestPerPoolHistogramSeriesOutliveRetiredPools: with MetricsPerPool, what
// a retired pool leaves in the OpenTelemetry SDK. The instruments read
// from Stats at collection report live pools only, so a retired pool's
// series stop; but its histograms (create_time, mint_time, wait_time,
// use_time) were recorded, and a synchronous instrument's series cannot be
// taken back: under cumulative temporality (the SDK's default, and
// Prometheus's) the SDK keeps and exports them for the MeterProvider's
// life, one set per identity that ever had a pool. docs/OPERATIONS.md said
// "per-pool series of a retired pool stop", which read as MetricsPerPool
// being safe with many identities coming and going so long as few were
// alive at once; it now names the histograms that stay and says a reader
// with delta temporality drops them after the next collection, which this
// test checks too.
func TestPerPoolHistogramSeriesOutliveRetiredPools(t *testing.T) {
	const identities = 50
	histograms := []string{"db.client.connection.create_time", "db.client.connection.wait_time",
		"db.client.connection.use_time", "idpool.token.mint_time"}
	churn := func(t *testing.T, reader *sdkmetric.ManualReader) {
		t.Helper()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithCardinalityLimit(0))
		t.Cleanup(func() { require.NoError(t, mp.Shutdown(context.Background())) })
		clk := newManualClock()
		m, err := New(Config{Server: "bare:1/test", MaxSize: 1, PoolIdleTimeout: time.Minute, HealthCheckAfter: -1,
			MeterProvider: mp, MetricsPerPool: true, MetricsUseTime: true, Clock: clk,
			Dialer: DialerFunc(func(context.Context, DialRequest) (driver.Conn, error) { return tinyConn{}, nil })})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, m.Close(context.Background())) })
		for i := range identities {
			id := identity(fmt.Sprint("churn", i))
			first := acquire(t, m, id)
			// A second acquire queues for the pool's one connection,
			// so that wait_time records too.
			queued := make(chan *Lease)
			go func() { queued <- acquire(t, m, id) }()
			eventually(t, func() bool { return m.Stats().Total.Waiters == 1 }, "the second acquire queued")
			clk.advance(time.Second) // it waits a second, by the pool's clock
			first.Release(nil)
			(<-queued).Release(nil)
		}
		// Each pool arms its retirement once its last release reached
		// it: move the clock until every one has retired.
		eventually(t, func() bool { clk.advance(2 * time.Minute); return m.Stats().Pools == 0 }, "every pool retired")
	}

	t.Run("cumulative", func(t *testing.T) {
		reader := sdkmetric.NewManualReader()
		churn(t, reader)
		_, per := seriesOf(t, reader)
		for _, name := range []string{"db.client.connection.count", "db.client.connection.max", "idpool.acquires"} {
			assert.Zero(t, per[name], "%s: no series of a retired pool", name)
		}
		for _, name := range histograms {
			assert.Equal(t, identities, per[name], "%s: one series per identity that came and went", name)
		}
	})
	t.Run("delta", func(t *testing.T) {
		reader := sdkmetric.NewManualReader(sdkmetric.WithTemporalitySelector(func(sdkmetric.InstrumentKind) metricdata.Temporality {
			return metricdata.DeltaTemporality
		}))
		churn(t, reader)
		_, per := seriesOf(t, reader)
		assert.Equal(t, identities, per["db.client.connection.create_time"], "the first collection exports what was recorded")
		_, per = seriesOf(t, reader)
		for _, name := range histograms {
			assert.Zero(t, per[name], "%s: dropped after the next collection", name)
		}
	})
	t.Run("docs", func(t *testing.T) {
		// The Metrics section says which series of a retired pool stay.
		var said string
		for _, para := range strings.Split(operationsSection(t, "Metrics"), "\n\n") {
			if strings.Contains(para, "retired pool") {
				said += para
			}
		}
		require.NotEmpty(t, said, "the Metrics section speaks of retired pools")
		for _, name := range histograms {
			assert.Contains(t, said, "`"+name+"`", "named among the series a retired pool leaves")
		}
		assert.Contains(t, said, "delta temporality")
	})
}
