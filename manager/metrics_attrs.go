package manager

import (
	"github.com/idpool/idpool/tokens"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// metricAttrs names the series. By default a series is per server and
// identity kind (db.client.connection.pool.name is Config.Server), whatever
// the number of identities; with MetricsPerPool, per identity pool. Each
// group's attribute set and options are built once, so recording allocates
// nothing: the kind groups at New, a pool's group on first use (kept on its
// route).
type metricAttrs struct {
	server          string
	perPool, detail bool
	byKind          [kindSlots]*seriesAttrs
	// manager names the series of the Manager as a whole (pools, permits).
	manager *seriesAttrs
}

// kindSlots covers every tokens.Kind; a kind beyond it (none today) gets
// its attributes built per use.
const kindSlots = 8

// seriesAttrs is one group's attribute set, as ready-made options.
type seriesAttrs struct {
	set        attribute.Set
	record     []metric.RecordOption
	observe    []metric.ObserveOption
	idle, used []metric.ObserveOption
}

func newSeriesAttrs(kvs ...attribute.KeyValue) *seriesAttrs {
	s := &seriesAttrs{set: attribute.NewSet(kvs...)}
	opt := metric.WithAttributeSet(s.set)
	s.record, s.observe = []metric.RecordOption{opt}, []metric.ObserveOption{opt}
	s.idle = []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(append(kvs, attribute.String(attrState, "idle"))...))}
	s.used = []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(append(kvs, attribute.String(attrState, "used"))...))}
	return s
}

func newMetricAttrs(cfg Config) *metricAttrs {
	a := &metricAttrs{server: cfg.Server, perPool: cfg.MetricsPerPool || cfg.MetricsIdentityDetail, detail: cfg.MetricsIdentityDetail}
	a.manager = newSeriesAttrs(attribute.String(attrPoolName, cfg.Server))
	for k := range a.byKind {
		a.byKind[k] = a.kindGroup(tokens.Kind(k))
	}
	return a
}

func (a *metricAttrs) kindGroup(kind tokens.Kind) *seriesAttrs {
	return newSeriesAttrs(attribute.String(attrPoolName, a.server), attribute.String(attrIdentityKind, kind.String()))
}

// poolGroup names one pool: by its redacted key (server, kind, short hash),
// never a token; with MetricsIdentityDetail by its full discriminator.
func (a *metricAttrs) poolGroup(kind tokens.Kind, disc string) *seriesAttrs {
	name := tokens.NewKey(a.server, disc).Redacted()
	if a.detail {
		name = a.server + "/" + disc
	}
	return newSeriesAttrs(attribute.String(attrPoolName, name), attribute.String(attrIdentityKind, kind.String()))
}

// of returns the series of the pool of disc, whose identity is of kind.
func (a *metricAttrs) of(m *Manager, kind tokens.Kind, disc string) *seriesAttrs {
	if !a.perPool {
		if int(kind) < kindSlots {
			return a.byKind[kind]
		}
		return a.kindGroup(kind)
	}
	r := m.routes.get(disc)
	if r == nil { // retired meanwhile: rare, and off the hot path
		return a.poolGroup(kind, disc)
	}
	if s := r.series.Load(); s != nil {
		return s
	}
	r.series.CompareAndSwap(nil, a.poolGroup(kind, disc))
	return r.series.Load()
}
