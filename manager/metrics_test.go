package manager

import (
	"context"
	"database/sql/driver"
	"strings"
	"testing"
	"time"

	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func collect(t *testing.T, r *sdkmetric.ManualReader) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm))
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

func sumPoints(m metricdata.Metrics, state string) int64 {
	var n int64
	if s, ok := m.Data.(metricdata.Sum[int64]); ok {
		for _, p := range s.DataPoints {
			if v, ok := p.Attributes.Value(attrState); state == "" || ok && v.AsString() == state {
				n += p.Value
			}
		}
	}
	return n
}

func histCount(m metricdata.Metrics) uint64 {
	var n uint64
	if h, ok := m.Data.(metricdata.Histogram[float64]); ok {
		for _, p := range h.DataPoints {
			n += p.Count
		}
	}
	return n
}

func TestMetricsFollowTheSemanticConventionsAndLeakNoIdentity(t *testing.T) {
	const clientID = "11111111-2222-3333-4444-555555555555"
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { require.NoError(t, mp.Shutdown(context.Background())) }()
	m, _ := newManager(t, Config{MaxSize: 2, MeterProvider: mp, AcquireTimeout: 20 * time.Millisecond, PoolIdleTimeout: -1})
	secret := "SENTINEL-TOKEN"
	id := tokens.New(tokens.KindManagedIdentity, "msi:"+clientID, tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		return tokens.Token{Value: secret, ExpiresOn: time.Now().Add(time.Hour)}, nil
	}))
	a, b := acquire(t, m, id), acquire(t, m, id)
	_, err := m.Acquire(context.Background(), id) // times out
	require.Error(t, err)
	b.Release(nil)

	got := collect(t, reader)
	for _, name := range []string{"db.client.connection.count", "db.client.connection.max", "db.client.connection.idle.max",
		"db.client.connection.idle.min", "db.client.connection.pending_requests",
		"db.client.connection.timeouts", "db.client.connection.create_time", "db.client.connection.wait_time",
		"idpool.token.mints", "idpool.token.mint_time", "idpool.token.rotations", "idpool.token.stale_drained",
		"idpool.pools.live", "idpool.pools.retired", "idpool.connection.closing"} {
		assert.Contains(t, got, name)
	}
	assert.NotContains(t, got, "db.client.connection.use_time", "use_time only with MetricsUseTime")
	assert.EqualValues(t, 1, sumPoints(got["db.client.connection.count"], "used"))
	assert.EqualValues(t, 1, sumPoints(got["db.client.connection.count"], "idle"))
	assert.EqualValues(t, 2, sumPoints(got["db.client.connection.max"], ""))
	assert.EqualValues(t, 1, sumPoints(got["db.client.connection.timeouts"], ""))
	assert.EqualValues(t, 2, sumPoints(got["idpool.token.mints"], ""), "one mint per physical open, none on hits")
	assert.EqualValues(t, 1, sumPoints(got["idpool.pools.live"], ""))
	assert.EqualValues(t, 2, histCount(got["db.client.connection.create_time"]))
	assert.EqualValues(t, 2, histCount(got["idpool.token.mint_time"]))
	assert.EqualValues(t, 2, histCount(got["db.client.connection.wait_time"]), "both acquires waited for a dial")

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	dump := strings.ToLower(fmtMetrics(rm))
	assert.NotContains(t, dump, clientID, "client id only with MetricsIdentityDetail")
	assert.NotContains(t, dump, strings.ToLower(secret))
	assert.NotContains(t, dump, "msi#", "no per-pool series by default")
	assert.Contains(t, dump, attrPoolName+"=memdb:1/test,", "series per server by default")
	assert.Contains(t, dump, attrIdentityKind+"=managed-identity", "the kind as tokens.Kind names it")
	for _, sm := range rm.ScopeMetrics {
		assert.Equal(t, meterName, sm.Scope.Name)
		assert.NotEmpty(t, sm.Scope.Version, "instrumentation scope version")
	}
	a.Release(nil)
}

func TestMetricsPerPoolIsOptInAndNamesPoolsByRedactedKey(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { require.NoError(t, mp.Shutdown(context.Background())) }()
	m, _ := newManager(t, Config{MeterProvider: mp, MetricsPerPool: true})
	const clientID = "11111111-2222-3333-4444-555555555555"
	id := tokens.New(tokens.KindManagedIdentity, "msi:"+clientID, tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		return tokens.Token{Value: "t", ExpiresOn: time.Now().Add(time.Hour)}, nil
	}))
	acquire(t, m, id).Release(nil)
	acquire(t, m, identity("bob")).Release(nil)
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	dump := fmtMetrics(rm)
	assert.Contains(t, dump, attrPoolName+"=memdb:1/test/msi#")
	assert.Contains(t, dump, attrPoolName+"=memdb:1/test/test#")
	assert.NotContains(t, dump, clientID)
	assert.Contains(t, dump, attrIdentityKind+"=provided-token")
	got := collect(t, reader)
	assert.Len(t, got["db.client.connection.max"].Data.(metricdata.Sum[int64]).DataPoints, 2, "one series per pool")
}

func TestMetricsUseTimeIsOptIn(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { require.NoError(t, mp.Shutdown(context.Background())) }()
	m, _ := newManager(t, Config{MeterProvider: mp, MetricsUseTime: true})
	l := acquire(t, m, identity("alice"))
	l.Release(nil)
	acquire(t, m, identity("alice")).Release(nil) // a hit: use_time still recorded
	assert.EqualValues(t, 2, histCount(collect(t, reader)["db.client.connection.use_time"]))
}

func fmtMetrics(rm metricdata.ResourceMetrics) string {
	var b strings.Builder
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			b.WriteString(m.Name)
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					b.WriteString(p.Attributes.Encoded(attribute.DefaultEncoder()))
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					b.WriteString(p.Attributes.Encoded(attribute.DefaultEncoder()))
				}
			}
		}
	}
	return b.String()
}

func TestMetricsIdentityDetailIsOptIn(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { require.NoError(t, mp.Shutdown(context.Background())) }()
	m, _ := newManager(t, Config{MeterProvider: mp, MetricsIdentityDetail: true})
	l := acquire(t, m, identity("alice"))
	l.Release(nil)
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	assert.Contains(t, fmtMetrics(rm), "memdb:1/test/test:alice")
}

// TestMetricsCountClosingConnections: a connection whose close has not
// finished shows as idpool.connection.closing, not as idle or used, until the
// close returns.
func TestMetricsCountClosingConnections(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { require.NoError(t, mp.Shutdown(context.Background())) }()
	closing, unblock := make(chan struct{}, 1), make(chan struct{})
	m, _ := newManager(t, Config{MaxSize: 2, MeterProvider: mp, HealthCheckAfter: -1,
		Hooks: Hooks{BeforeClose: func(driver.Conn) {
			select {
			case closing <- struct{}{}:
			default:
			}
			<-unblock
		}}})
	a, b := acquire(t, m, sqlLogin), acquire(t, m, sqlLogin)
	b.Release(nil)
	a.Release(errBad) // broken: closed, and the close blocks in the hook
	<-closing
	got := collect(t, reader)
	assert.EqualValues(t, 1, sumPoints(got["idpool.connection.closing"], ""))
	assert.EqualValues(t, 1, sumPoints(got["db.client.connection.count"], "idle"))
	assert.EqualValues(t, 0, sumPoints(got["db.client.connection.count"], "used"), "a closing connection is not in use")

	close(unblock)
	eventually(t, func() bool { return m.Stats().Total.ClosingConns == 0 }, "the close finished")
	got = collect(t, reader)
	assert.EqualValues(t, 0, sumPoints(got["idpool.connection.closing"], ""))
}

// docs/OPERATIONS.md ("Metrics", Cost): a pool hit records no metric unless
// MetricsUseTime, so with a MeterProvider acquire+release still allocates
// only the Lease.
func TestWithAMeterProviderAPoolHitAllocatesOnlyTheLease(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { require.NoError(t, mp.Shutdown(context.Background())) }()
	m, _ := newManager(t, Config{MeterProvider: mp, HealthCheckAfter: -1})
	assert.LessOrEqual(t, hitAllocs(t, m, identity("alice")), 1.0)
}
