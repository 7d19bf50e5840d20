package manager

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/idpool/idpool/tokens"

	"go.opentelemetry.io/otel/metric"
)

// metrics holds the synchronous instruments; nil when Config.MeterProvider
// is unset, and every method is then a no-op, so the hot path pays one nil
// check. The gauges and counters are observed from one Stats snapshot per
// collection (metrics_observe.go); the histograms are recorded where the
// time is measured, and only off a pool hit's path: a hit records nothing
// unless MetricsUseTime asks for use_time. A record that panics is dropped
// (see dropPanic).
type metrics struct {
	createTime, waitTime, useTime, mintTime metric.Float64Histogram
	attrs                                   *metricAttrs
	useTimeOn                               bool
}

// Instrument names follow the OpenTelemetry semantic conventions for
// database client connection pools (db.client.connection.*), plus idpool's
// own (idpool.*).
const (
	meterName = "github.com/idpool/idpool"

	attrPoolName     = "db.client.connection.pool.name"
	attrState        = "db.client.connection.state"
	attrIdentityKind = "idpool.identity.kind"
	attrCloseReason  = "idpool.close.reason"
)

// secondsBuckets spans a pool hit (microseconds) to a login stuck behind a
// firewall (a minute).
var secondsBuckets = metric.WithExplicitBucketBoundaries(0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60)

// newMetrics registers the instruments on cfg.MeterProvider, under a scope
// named for the module and versioned with it.
func newMetrics(m *Manager, cfg Config) (*metrics, error) {
	mp := cfg.MeterProvider
	if mp == nil {
		return nil, nil
	}
	meter := mp.Meter(meterName, metric.WithInstrumentationVersion(moduleVersion()),
		metric.WithSchemaURL(semconvSchema))
	mt := &metrics{attrs: newMetricAttrs(cfg), useTimeOn: cfg.MetricsUseTime}
	seconds := metric.WithUnit("s")
	var errs []error
	hist := func(name, desc string) metric.Float64Histogram {
		h, err := meter.Float64Histogram(name, seconds, secondsBuckets, metric.WithDescription(desc))
		errs = append(errs, err)
		return h
	}
	mt.createTime = hist("db.client.connection.create_time",
		"Time it took to open a physical connection, login and AfterConnect included.")
	mt.waitTime = hist("db.client.connection.wait_time",
		"Time an acquire queued for a connection; acquires served at once from idle record nothing (see idpool.acquires).")
	mt.mintTime = hist("idpool.token.mint_time", "Time a token mint took.")
	if cfg.MetricsUseTime {
		mt.useTime = hist("db.client.connection.use_time", "Time between an acquire and its release.")
	}
	errs = append(errs, registerObservers(meter, m, mt.attrs, cfg))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return mt, registerFleetMetrics(meter, cfg.Fleet)
}

// waited records the queueing of an acquire the pool did not serve at once.
func (mt *metrics) waited(m *Manager, kind tokens.Kind, disc string, d time.Duration) {
	if mt != nil && d > 0 {
		defer dropPanic() // the user's MeterProvider: see dropPanic
		mt.waitTime.Record(context.Background(), d.Seconds(), mt.attrs.of(m, kind, disc).record...)
	}
}

// used records how long a lease was held, when MetricsUseTime is on.
func (mt *metrics) used(m *Manager, kind tokens.Kind, disc string, since int64) {
	if mt != nil && mt.useTimeOn && since != 0 {
		defer dropPanic() // the user's MeterProvider: see dropPanic
		d := time.Duration(monotonicNow() - since)
		mt.useTime.Record(context.Background(), d.Seconds(), mt.attrs.of(m, kind, disc).record...)
	}
}

// dialed records a successful dial's duration.
func (mt *metrics) dialed(m *Manager, req DialRequest, d time.Duration) {
	if mt != nil {
		defer dropPanic() // the user's MeterProvider: see dropPanic
		mt.createTime.Record(context.Background(), d.Seconds(), mt.attrs.of(m, req.Identity.Kind(), req.Key.Discriminator()).record...)
	}
}

// minted records a successful token mint's duration.
func (mt *metrics) minted(m *Manager, key tokens.Key, d time.Duration) {
	if mt != nil {
		defer dropPanic() // the user's MeterProvider: see dropPanic
		disc := key.Discriminator()
		mt.mintTime.Record(context.Background(), d.Seconds(), mt.attrs.of(m, tokens.KindOf(disc), disc).record...)
	}
}

// monotonicEpoch anchors monotonicNow; only differences matter.
var monotonicEpoch = time.Now()

// monotonicNow is a monotonic clock reading in nanoseconds, never zero: an
// int64 keeps the Lease in its size class where a time.Time would not.
func monotonicNow() int64 { return max(int64(time.Since(monotonicEpoch)), 1) }

// noLimit is Config.MaxTotal when only a fleet budget is set: no local cap.
const noLimit = math.MaxInt
