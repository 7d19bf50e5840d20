package manager

import (
	"context"

	"go.opentelemetry.io/otel/metric"
)

// registerFleetMetrics adds the fleet budget's instruments (idpool.fleet.*)
// to meter, when Config.Fleet can describe itself (SessionBudgetStats). They
// are observed from one FleetStats snapshot per collection; the budget's
// stats take a lock, never I/O, so a collection never waits on etcd.
func registerFleetMetrics(meter metric.Meter, b SessionBudget) error {
	sb, ok := b.(SessionBudgetStats)
	if !ok {
		return nil
	}
	permits := metric.WithUnit("{permit}")
	held, err1 := meter.Int64ObservableUpDownCounter("idpool.fleet.permits.held", permits,
		metric.WithDescription("Fleet session permits the budget records for this process (in use and spare)."))
	inUse, err2 := meter.Int64ObservableUpDownCounter("idpool.fleet.permits.in_use", permits,
		metric.WithDescription("Fleet session permits covering connections open, dialing or closing."))
	waiting, err3 := meter.Int64ObservableUpDownCounter("idpool.fleet.permits.waiting", permits,
		metric.WithDescription("Dials waiting for a fleet session permit."))
	refused, err4 := meter.Int64ObservableCounter("idpool.fleet.permits.refused", metric.WithUnit("{fetch}"),
		metric.WithDescription("Permit fetches that found the fleet at its cap."))
	limit, err5 := meter.Int64ObservableUpDownCounter("idpool.fleet.permits.cap", permits,
		metric.WithDescription("The fleet-wide cap on sessions."))
	losses, err6 := meter.Int64ObservableCounter("idpool.fleet.lease.losses", metric.WithUnit("{lease}"),
		metric.WithDescription("Budget leases lost (expired or revoked); the process sheds what it cannot take again."))
	errs, err7 := meter.Int64ObservableCounter("idpool.fleet.errors", metric.WithUnit("{call}"),
		metric.WithDescription("Failed calls to the budget's store (etcd)."))
	for _, e := range []error{err1, err2, err3, err4, err5, err6, err7} {
		if e != nil {
			return e
		}
	}
	_, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := sb.FleetStats()
		o.ObserveInt64(held, int64(s.Held))
		o.ObserveInt64(inUse, int64(s.InUse))
		o.ObserveInt64(waiting, int64(s.Waiting))
		o.ObserveInt64(refused, int64(s.Refused))
		o.ObserveInt64(limit, int64(s.Cap))
		o.ObserveInt64(losses, int64(s.LeaseLosses))
		o.ObserveInt64(errs, int64(s.Errors))
		return nil
	}, held, inUse, waiting, refused, limit, losses, errs)
	return err
}
