package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"testing"
	"time"

	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func newReader(t *testing.T) (*sdkmetric.MeterProvider, *sdkmetric.ManualReader) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return mp, reader
}

// value sums the points of an Int64 sum whose attribute key has value want
// (every point when key is "").
func value(m metricdata.Metrics, key, want string) int64 {
	var n int64
	s, _ := m.Data.(metricdata.Sum[int64])
	for _, p := range s.DataPoints {
		if v, ok := p.Attributes.Value(attribute.Key(key)); key == "" || ok && v.AsString() == want {
			n += p.Value
		}
	}
	return n
}

func TestMetricsReportFailuresClosesHitsAndMisses(t *testing.T) {
	mp, reader := newReader(t)
	closing, unblock := make(chan struct{}, 4), make(chan struct{})
	m, db := newManager(t, Config{MaxSize: 1, MeterProvider: mp, DialBackoff: time.Hour, DialBackoffMax: time.Hour, HealthCheckAfter: -1,
		Hooks: Hooks{BeforeClose: func(driver.Conn) { closing <- struct{}{}; <-unblock }}})

	alice := identity("alice")
	l := acquire(t, m, alice) // a miss
	l.Release(nil)
	l = acquire(t, m, alice) // a hit
	l.Release(errBad)        // closed as broken, and held in BeforeClose
	<-closing

	bob := identity("bob")
	db.FailDials(2, errors.New("login failed"))
	for range 2 {
		_, err := m.Acquire(context.Background(), bob)
		var de *DialError
		require.ErrorAs(t, err, &de)
	}
	_, err := m.Acquire(context.Background(), bob) // in the blocking period
	var be *BlockedError
	require.ErrorAs(t, err, &be)

	carol := tokens.New(tokens.KindManagedIdentity, "msi:carol", tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		return tokens.Token{}, errors.New("endpoint down")
	}))
	_, err = m.Acquire(context.Background(), carol)
	require.Error(t, err)

	got := collect(t, reader)
	for name, want := range map[string]int64{
		"idpool.acquire.hits": 1, "idpool.acquire.misses": 1, "idpool.acquires": 6,
		"idpool.connection.dial_failures": 2, "idpool.acquire.blocked": 1, "idpool.pool.blocked_periods": 1,
		"idpool.token.mint_failures": 1, "idpool.connection.opens": 1, "idpool.connection.closing": 1,
		"idpool.pools.live": 3,
	} {
		assert.Equal(t, want, value(got[name], "", ""), name)
	}
	assert.EqualValues(t, 1, value(got["idpool.connection.closes"], attrCloseReason, "broken"))
	assert.EqualValues(t, 1, histCount(got["db.client.connection.wait_time"]), "the miss waited for its dial; the hit recorded nothing")
	assert.EqualValues(t, 1, value(got["idpool.pools.live"], attrIdentityKind, "managed-identity"))
	assert.EqualValues(t, 2, value(got["idpool.pools.live"], attrIdentityKind, "provided-token"))
	close(unblock)
}

func TestMetricsReportTheSessionBudgetAndTheIdleBounds(t *testing.T) {
	mp, reader := newReader(t)
	m, _ := newManager(t, Config{MaxSize: 4, MinSize: 1, MaxTotal: 5, MeterProvider: mp, HealthCheckAfter: -1})
	a, b := acquire(t, m, identity("alice")), acquire(t, m, identity("bob"))
	eventually(t, func() bool { s := m.Stats(); return s.Total.Dialing == 0 && s.Total.AwaitingPermit == 0 }, "fills done")
	s := m.Stats()
	got := collect(t, reader)
	assert.EqualValues(t, 5, value(got["idpool.permits.limit"], "", ""))
	assert.EqualValues(t, s.PermitsInUse, value(got["idpool.permits.in_use"], "", ""))
	assert.EqualValues(t, s.Total.Open, value(got["idpool.permits.in_use"], "", ""), "one permit per open connection")
	assert.EqualValues(t, 0, value(got["idpool.permits.waiting"], "", ""))
	assert.EqualValues(t, 2, value(got["db.client.connection.idle.min"], "", ""), "MinSize per pool")
	assert.EqualValues(t, 8, value(got["db.client.connection.idle.max"], "", ""), "MaxSize per pool")
	assert.EqualValues(t, 8, value(got["db.client.connection.max"], "", ""))
	a.Release(nil)
	b.Release(nil)
}

// docs/OPERATIONS.md ("Metrics") and Stats.PermitsInUse: a connection whose
// close has not finished still holds its MaxTotal permit (the server still
// counts its session), in Stats and in idpool.permits.in_use; the permit
// comes back when the close ends. Both once said "open or dialing".
func TestAClosingConnectionHoldsItsMaxTotalPermitUntilItsCloseEnds(t *testing.T) {
	mp, reader := newReader(t)
	closing, unblock := make(chan struct{}, 1), make(chan struct{})
	m, _ := newManager(t, Config{MaxTotal: 2, MeterProvider: mp, HealthCheckAfter: -1,
		Hooks: Hooks{BeforeClose: func(driver.Conn) {
			select {
			case closing <- struct{}{}:
			default:
			}
			<-unblock
		}}})
	acquire(t, m, identity("alice")).Release(errBad) // broken: closed, and the close blocks in the hook
	<-closing
	s := m.Stats()
	require.Equal(t, 1, s.Total.ClosingConns)
	assert.Zero(t, s.Total.Open)
	assert.Equal(t, 1, s.PermitsInUse, "the closing connection's permit")
	assert.EqualValues(t, 1, value(collect(t, reader)["idpool.permits.in_use"], "", ""))

	close(unblock)
	eventually(t, func() bool { return m.Stats().PermitsInUse == 0 }, "the permit back once the close ended")
	assert.EqualValues(t, 0, value(collect(t, reader)["idpool.permits.in_use"], "", ""))
}

func TestMetricCountersSurviveRetirement(t *testing.T) {
	mp, reader := newReader(t)
	m, _ := newManager(t, Config{MeterProvider: mp, PoolIdleTimeout: 10 * time.Millisecond})
	acquire(t, m, identity("alice")).Release(nil)
	eventually(t, func() bool { return m.Stats().PoolsRetired == 1 }, "retired")
	got := collect(t, reader)
	assert.EqualValues(t, 1, value(got["idpool.acquires"], "", ""), "a retired pool's acquires still count")
	assert.EqualValues(t, 1, value(got["idpool.connection.opens"], "", ""))
	assert.EqualValues(t, 1, value(got["idpool.pools.retired"], "", ""))
	assert.EqualValues(t, 0, value(got["idpool.pools.live"], "", ""))
}
