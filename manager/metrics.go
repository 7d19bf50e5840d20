package manager

import (
	"context"
	"database/sql/driver"
	"strings"
	"time"

	"github.com/idpool/idpool/tokens"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Metric names follow the OpenTelemetry semantic conventions for database
// client connection pools (db.client.connection.*), plus idpool's own.
const (
	meterName = "github.com/idpool/idpool"

	attrPoolName     = "db.client.connection.pool.name"
	attrState        = "db.client.connection.state"
	attrIdentityKind = "idpool.identity.kind"
)

// metrics holds the instruments; nil when Config.MeterProvider is unset, and
// every method is then a no-op, so the hot path pays one nil check.
type metrics struct {
	createTime, waitTime, useTime metric.Float64Histogram
	detail                        bool
	server                        string
}

// newMetrics registers the instruments on cfg.MeterProvider. The gauges and
// counters are observed from one Stats snapshot per collection; the
// histograms are recorded where the time is measured.
func newMetrics(m *Manager, cfg Config) (*metrics, error) {
	mp := cfg.MeterProvider
	if mp == nil {
		return nil, nil
	}
	meter := mp.Meter(meterName)
	mt := &metrics{detail: cfg.MetricsIdentityDetail, server: cfg.Server}
	var err error
	seconds := metric.WithUnit("s")
	buckets := metric.WithExplicitBucketBoundaries(0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60)
	if mt.createTime, err = meter.Float64Histogram("db.client.connection.create_time", seconds, buckets,
		metric.WithDescription("Time it took to open a physical connection, token login included.")); err != nil {
		return nil, err
	}
	if mt.waitTime, err = meter.Float64Histogram("db.client.connection.wait_time", seconds, buckets,
		metric.WithDescription("Time an acquire waited for a connection.")); err != nil {
		return nil, err
	}
	if mt.useTime, err = meter.Float64Histogram("db.client.connection.use_time", seconds, buckets,
		metric.WithDescription("Time between an acquire and its release.")); err != nil {
		return nil, err
	}
	count, err1 := meter.Int64ObservableUpDownCounter("db.client.connection.count", metric.WithUnit("{connection}"),
		metric.WithDescription("Connections open, by state (idle or used)."))
	maxConns, err2 := meter.Int64ObservableUpDownCounter("db.client.connection.max", metric.WithUnit("{connection}"),
		metric.WithDescription("The most connections each pool may open (MaxSize)."))
	pending, err3 := meter.Int64ObservableUpDownCounter("db.client.connection.pending_requests", metric.WithUnit("{request}"),
		metric.WithDescription("Acquires waiting for a connection."))
	timeouts, err4 := meter.Int64ObservableCounter("db.client.connection.timeouts", metric.WithUnit("{timeout}"),
		metric.WithDescription("Acquires that timed out waiting."))
	mints, err5 := meter.Int64ObservableCounter("idpool.token.mints", metric.WithUnit("{token}"),
		metric.WithDescription("Tokens minted to open connections."))
	rotations, err6 := meter.Int64ObservableCounter("idpool.token.rotations", metric.WithUnit("{rotation}"),
		metric.WithDescription("Checkouts that found a connection's token replaced."))
	stale, err7 := meter.Int64ObservableCounter("idpool.token.stale_drained", metric.WithUnit("{connection}"),
		metric.WithDescription("Idle connections closed because their token was replaced."))
	live, err8 := meter.Int64ObservableUpDownCounter("idpool.pools.live", metric.WithUnit("{pool}"),
		metric.WithDescription("Identity pools alive."))
	retired, err9 := meter.Int64ObservableCounter("idpool.pools.retired", metric.WithUnit("{pool}"),
		metric.WithDescription("Identity pools retired after going quiet."))
	// Not a db.client.connection.count state: the conventions' states are
	// idle and used, and a sum over states is what dashboards plot as the
	// pool's connections. Closing sessions are what the pool no longer lends
	// but the server still has, and they count against MaxSize and MaxTotal.
	closing, err10 := meter.Int64ObservableUpDownCounter("idpool.connection.closing", metric.WithUnit("{connection}"),
		metric.WithDescription("Connections being closed: no longer lent, still sessions at the server, still counted against MaxSize and MaxTotal."))
	for _, e := range []error{err1, err2, err3, err4, err5, err6, err7, err8, err9, err10} {
		if e != nil {
			return nil, e
		}
	}
	_, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := m.Stats()
		for _, p := range s.PerPool {
			pool := mt.poolAttrs(p.Key, p.Discriminator)
			o.ObserveInt64(count, int64(p.Idle), metric.WithAttributes(append(pool, attribute.String(attrState, "idle"))...))
			o.ObserveInt64(count, int64(p.Open-p.Idle), metric.WithAttributes(append(pool, attribute.String(attrState, "used"))...))
			set := metric.WithAttributes(pool...)
			o.ObserveInt64(maxConns, int64(p.MaxSize), set)
			o.ObserveInt64(pending, int64(p.Waiters), set)
			o.ObserveInt64(timeouts, int64(p.Timeouts), set)
			o.ObserveInt64(mints, int64(p.TokenMints), set)
			o.ObserveInt64(rotations, int64(p.Rotations), set)
			o.ObserveInt64(stale, int64(p.StaleDrained), set)
			o.ObserveInt64(closing, int64(p.ClosingConns), set)
		}
		o.ObserveInt64(live, int64(s.Pools))
		o.ObserveInt64(retired, int64(s.PoolsRetired))
		return nil
	}, count, maxConns, pending, timeouts, mints, rotations, stale, live, retired, closing)
	if err != nil {
		return nil, err
	}
	return mt, registerFleetMetrics(meter, cfg.Fleet)
}

// poolAttrs names a pool in metrics: by default the redacted key (server,
// identity kind, short hash), never a token; with MetricsIdentityDetail the
// full discriminator, which may hold client ids.
func (mt *metrics) poolAttrs(redacted, disc string) []attribute.KeyValue {
	name := redacted
	if mt.detail {
		name = mt.server + "/" + disc
	}
	kind, _, _ := strings.Cut(disc, ":")
	if disc == "" {
		kind = "sql-login"
	}
	return []attribute.KeyValue{attribute.String(attrPoolName, name), attribute.String(attrIdentityKind, kind)}
}

func (mt *metrics) poolOf(disc string) metric.MeasurementOption {
	return metric.WithAttributes(mt.poolAttrs(tokens.NewKey(mt.server, disc).Redacted(), disc)...)
}

func (mt *metrics) recordWait(disc string, d time.Duration) {
	if mt != nil {
		mt.waitTime.Record(context.Background(), d.Seconds(), mt.poolOf(disc))
	}
}

func (mt *metrics) recordUse(disc string, d time.Duration) {
	if mt != nil {
		mt.useTime.Record(context.Background(), d.Seconds(), mt.poolOf(disc))
	}
}

// timedDialer records db.client.connection.create_time around each dial.
type timedDialer struct {
	next Dialer
	mt   *metrics
}

func (d timedDialer) Dial(ctx context.Context, req DialRequest) (driver.Conn, error) {
	start := time.Now()
	conn, err := d.next.Dial(ctx, req)
	if err == nil {
		disc := req.Key.Discriminator()
		d.mt.createTime.Record(ctx, time.Since(start).Seconds(), d.mt.poolOf(disc))
	}
	return conn, err
}
