package manager

import (
	"context"
	"errors"
	"fmt"

	"github.com/idpool/idpool/tokens"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// observers are the instruments read from a Stats snapshot at collection.
type observers struct {
	count, idleMax, idleMin, max, pending, closing, poolsLive metric.Int64ObservableUpDownCounter
	timeouts, acquires, hits, misses, blocked, exhausted      metric.Int64ObservableCounter
	opens, dialFailures, closes, blockedPeriods               metric.Int64ObservableCounter
	mints, mintFailures, rotations, staleDrained, refreshes   metric.Int64ObservableCounter
	poolsRetired                                              metric.Int64ObservableCounter
	permitsUsed, permitsLimit, permitsWaiting                 metric.Int64ObservableUpDownCounter
}

// registerObservers creates the observable instruments and the one callback
// that fills them.
func registerObservers(meter metric.Meter, m *Manager, attrs *metricAttrs, cfg Config) error {
	var o observers
	var errs []error
	gauge := func(name, unit, desc string) metric.Int64ObservableUpDownCounter {
		g, err := meter.Int64ObservableUpDownCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return g
	}
	counter := func(name, unit, desc string) metric.Int64ObservableCounter {
		c, err := meter.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	o.count = gauge("db.client.connection.count", "{connection}", "Connections open, by state (idle or used).")
	o.idleMax = gauge("db.client.connection.idle.max", "{connection}", "The most idle connections the pools keep (MaxSize each).")
	o.idleMin = gauge("db.client.connection.idle.min", "{connection}", "The idle connections the pools keep open at least (MinSize each).")
	o.max = gauge("db.client.connection.max", "{connection}", "The most connections the pools may open (MaxSize each).")
	o.pending = gauge("db.client.connection.pending_requests", "{request}", "Acquires waiting for a connection.")
	o.closing = gauge("idpool.connection.closing", "{connection}", "Connections being closed: still sessions at the server, still counted against MaxSize.")
	o.poolsLive = gauge("idpool.pools.live", "{pool}", "Identity pools alive.")
	o.timeouts = counter("db.client.connection.timeouts", "{timeout}", "Acquires that timed out waiting.")
	o.acquires = counter("idpool.acquires", "{acquire}", "Acquires the pools received.")
	o.hits = counter("idpool.acquire.hits", "{acquire}", "Acquires granted a connection that was already open.")
	o.misses = counter("idpool.acquire.misses", "{acquire}", "Acquires granted a connection opened for them.")
	o.blocked = counter("idpool.acquire.blocked", "{acquire}", "Acquires failed at once during a blocking period after failed dials (DialBackoff).")
	o.exhausted = counter("idpool.acquire.exhausted", "{acquire}", "Acquires refused because MaxWaiters were already waiting.")
	o.opens = counter("idpool.connection.opens", "{connection}", "Physical connections opened.")
	o.dialFailures = counter("idpool.connection.dial_failures", "{dial}", "Dials that failed.")
	o.closes = counter("idpool.connection.closes", "{connection}", "Connections closed, by reason.")
	o.blockedPeriods = counter("idpool.pool.blocked_periods", "{period}", "Blocking periods begun after failed dials or mints.")
	o.mints = counter("idpool.token.mints", "{token}", "Tokens minted.")
	o.mintFailures = counter("idpool.token.mint_failures", "{mint}", "Token mints that failed or returned an unusable token.")
	o.rotations = counter("idpool.token.rotations", "{rotation}", "Checkouts that found a connection's token replaced.")
	o.staleDrained = counter("idpool.token.stale_drained", "{connection}", "Idle connections closed because their token was replaced.")
	o.refreshes = counter("idpool.token.refreshes", "{mint}", "Background mints ahead of expiry (TokenRefreshAhead).")
	o.poolsRetired = counter("idpool.pools.retired", "{pool}", "Identity pools retired after going quiet.")
	o.permitsUsed = gauge("idpool.permits.in_use", "{connection}", "Connections open, dialing or closing under MaxTotal, the session budget.")
	o.permitsLimit = gauge("idpool.permits.limit", "{connection}", "MaxTotal, the session budget of this process.")
	o.permitsWaiting = gauge("idpool.permits.waiting", "{request}", "Dials queued for room under MaxTotal.")
	if err := errors.Join(errs...); err != nil {
		return err
	}
	limit := cfg.MaxTotal
	if limit == noLimit {
		limit = 0 // a fleet budget alone: no local cap to report
	}
	minSize := int64(cfg.MinSize)
	_, err := meter.RegisterCallback(func(ctx context.Context, ob metric.Observer) error {
		// Bounded by the collection's ctx, as Close is by its own: an actor
		// held up by user code inside it (a Logger handler that blocks)
		// held the SDK's collection, and the reader's later ones, for as
		// long as it was held. The query goes from a goroutine of its own
		// (goSend, as Close's): a send to an idle actor runs it on the sender's
		// goroutine, where that handler would block the collection itself.
		s, answered := m.statsUntil(ctx.Done(), m.goSend)
		if !answered {
			return fmt.Errorf("idpool: metrics: an actor did not answer before the collection's ctx ended, held up by user code inside it (a Logger handler that blocks?): %w", ctx.Err())
		}
		if attrs.perPool {
			for _, p := range s.PerPool {
				kind := tokens.KindOf(p.Discriminator)
				live := int64(0)
				if !p.Closing {
					live = 1
				}
				o.observe(ob, attrs.of(m, kind, p.Discriminator), p, live, minSize)
			}
		} else {
			live := map[string]int64{}
			for _, p := range s.PerPool {
				if !p.Closing {
					live[tokens.KindOf(p.Discriminator).String()]++
				}
			}
			for kind, p := range s.ByKind {
				o.observe(ob, attrs.byName(kind), p, live[kind], minSize)
			}
		}
		mgr := attrs.manager.observe
		ob.ObserveInt64(o.poolsRetired, int64(s.PoolsRetired), mgr...)
		if limit > 0 {
			ob.ObserveInt64(o.permitsUsed, int64(s.PermitsInUse), mgr...)
			ob.ObserveInt64(o.permitsLimit, int64(limit), mgr...)
			ob.ObserveInt64(o.permitsWaiting, int64(s.PermitWaiters), mgr...)
		}
		return nil
	}, o.all()...)
	return err
}

func (o *observers) all() []metric.Observable {
	return []metric.Observable{o.count, o.idleMax, o.idleMin, o.max, o.pending, o.closing, o.poolsLive,
		o.timeouts, o.acquires, o.hits, o.misses, o.blocked, o.exhausted, o.opens, o.dialFailures, o.closes,
		o.blockedPeriods, o.mints, o.mintFailures, o.rotations, o.staleDrained, o.refreshes, o.poolsRetired,
		o.permitsUsed, o.permitsLimit, o.permitsWaiting}
}

// observe reports one series group: a pool, or all pools of a kind (pools
// is how many of them are live, for the per-pool minimum).
func (o *observers) observe(ob metric.Observer, a *seriesAttrs, p PoolStats, pools, minSize int64) {
	ob.ObserveInt64(o.count, int64(p.Idle), a.idle...)
	ob.ObserveInt64(o.count, int64(p.Open-p.Idle), a.used...)
	gauges := []struct {
		inst metric.Int64ObservableUpDownCounter
		v    int64
	}{{o.idleMax, int64(p.MaxSize)}, {o.idleMin, minSize * pools}, {o.max, int64(p.MaxSize)},
		{o.pending, int64(p.Waiters)}, {o.closing, int64(p.ClosingConns)}, {o.poolsLive, pools}}
	for _, g := range gauges {
		ob.ObserveInt64(g.inst, g.v, a.observe...)
	}
	counters := []struct {
		inst metric.Int64ObservableCounter
		v    uint64
	}{{o.timeouts, p.Timeouts}, {o.acquires, p.Acquires}, {o.hits, p.Hits}, {o.misses, p.Misses},
		{o.blocked, p.BlockedFails}, {o.exhausted, p.Exhausted}, {o.opens, p.Opens}, {o.dialFailures, p.DialFailures},
		{o.blockedPeriods, p.BlockedPeriods}, {o.mints, p.TokenMints}, {o.mintFailures, p.MintFailures},
		{o.rotations, p.Rotations}, {o.staleDrained, p.StaleDrained}, {o.refreshes, p.Refreshes}}
	for _, c := range counters {
		ob.ObserveInt64(c.inst, int64(c.v), a.observe...)
	}
	for reason, n := range p.Closes {
		kvs := append(a.set.ToSlice(), attribute.String(attrCloseReason, reason))
		ob.ObserveInt64(o.closes, int64(n), metric.WithAttributes(kvs...))
	}
}

// byName returns the kind group named kind (a tokens.Kind's String).
func (a *metricAttrs) byName(kind string) *seriesAttrs {
	for _, s := range a.byKind {
		if v, _ := s.set.Value(attrIdentityKind); v.AsString() == kind {
			return s
		}
	}
	return newSeriesAttrs(attribute.String(attrPoolName, a.server), attribute.String(attrIdentityKind, kind))
}
