package manager

import (
	"context"
	"database/sql/driver"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// seriesOf counts the series (data points) per instrument of a collection.
func seriesOf(t *testing.T, r *sdkmetric.ManualReader) (total int, per map[string]int) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm))
	per = map[string]int{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			n := 0
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				n = len(d.DataPoints)
			case metricdata.Histogram[float64]:
				n = len(d.DataPoints)
			}
			per[m.Name] = n
			total += n
		}
	}
	return total, per
}

// TestTenThousandIdentitiesMakeAFewSeriesByDefaultAndOneSetPerPoolOnRequest
// counts the series 10,000 identities produce: by default a small constant
// (per server and identity kind), with MetricsPerPool one set per identity.
func TestTenThousandIdentitiesMakeAFewSeriesByDefaultAndOneSetPerPoolOnRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 identities")
	}
	const identities = 10_000
	for _, perPool := range []bool{false, true} {
		t.Run(fmt.Sprint("perPool=", perPool), func(t *testing.T) {
			reader := sdkmetric.NewManualReader()
			// No SDK cardinality limit: count what idpool produces.
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithCardinalityLimit(0))
			defer func() { require.NoError(t, mp.Shutdown(context.Background())) }()
			m, err := New(Config{Server: "bare:1/test", MaxSize: 1, PoolIdleTimeout: -1, HealthCheckAfter: -1,
				MeterProvider: mp, MetricsPerPool: perPool,
				Dialer: DialerFunc(func(context.Context, DialRequest) (driver.Conn, error) { return tinyConn{}, nil })})
			require.NoError(t, err)
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				require.NoError(t, m.Close(ctx))
			}()
			acquire(t, m, sqlLogin).Release(nil)
			for i := range identities {
				acquire(t, m, identity(fmt.Sprint("user", i))).Release(nil)
			}
			total, per := seriesOf(t, reader)
			t.Logf("%d identities, per pool %v: %d series", identities+1, perPool, total)
			if !perPool {
				// Two kinds (provided-token, sql-login) and the manager's own.
				assert.LessOrEqual(t, total, 100, "a constant, whatever the number of identities")
				assert.Equal(t, 2, per["db.client.connection.max"], "one series per identity kind")
				return
			}
			assert.Equal(t, identities+1, per["db.client.connection.max"], "one series per pool")
			assert.Equal(t, 2*(identities+1), per["db.client.connection.count"], "idle and used per pool")
		})
	}
}
