package manager

import "time"

// FleetStats is this process's share of a fleet budget (Config.Fleet), in
// Stats.Fleet. Package fleet fills it from its etcd budget.
type FleetStats struct {
	// Budget names the budget for people, e.g. "etcd budget /idpool/sql1/".
	// It holds no credential.
	Budget string
	// Cap is the fleet-wide cap on sessions the budget keeps to (package
	// fleet's: the smallest cap its live processes state); FleetHeld the permits held by
	// every process together at this process's last read of the budget.
	Cap, FleetHeld int
	// Held is how many permits the budget records for this process; InUse
	// how many cover connections open, dialing or closing; Waiting how many
	// the manager waits for (dials held at the fleet gate); Shed how many
	// connections it must close because it holds more than it may keep.
	Held, InUse, Waiting, Shed int
	// LeaseValid says whether the process can count on the permits it
	// holds now (for etcd: its lease is renewed within its TTL).
	LeaseValid bool
	// Refused counts fetches that found the fleet at its cap; Misses the
	// permits asked for that were not at hand.
	Refused, Misses uint64
	// Fetches and Returns count the budget's writes that took or gave back
	// permits; Renewals its lease renewals; LeaseLosses the leases lost;
	// Errors its failed calls to the budget's store.
	Fetches, Returns, Renewals, LeaseLosses, Errors uint64
	// FetchTime is the total time spent in successful fetches.
	FetchTime time.Duration
}

// SessionBudgetStats is implemented by a SessionBudget that can describe
// itself; package fleet's Budget does. It is a separate interface so that
// SessionBudget stays as small as the manager needs. FleetStats may be
// called from any goroutine, the manager actor's included, so it must not
// block or do I/O.
type SessionBudgetStats interface {
	FleetStats() FleetStats
}

// fleetStatsOf returns the budget's stats, or nil when there is no budget or
// it cannot describe itself.
func fleetStatsOf(b SessionBudget) *FleetStats {
	if s, ok := b.(SessionBudgetStats); ok {
		st := s.FleetStats()
		return &st
	}
	return nil
}
