package fleet

import (
	"time"

	"github.com/idpool/idpool/manager"
)

// Stats describes a process's share of the fleet budget.
type Stats struct {
	// Cap is the fleet-wide cap; FleetHeld the permits held by every
	// process together at this process's last read of etcd.
	Cap, FleetHeld int
	// FleetCap is the cap the fleet keeps to: the smallest Cap any of its
	// live processes states, as this process's watch sees them. It differs
	// from Cap only when processes on one prefix were given different caps,
	// or another program wrote a smaller count under the prefix's c/ (this
	// process's own cap key included, until the process puts it again):
	// either is logged as an error.
	FleetCap int
	// Held is how many permits etcd records for this process; InUse how many
	// cover connections open, dialing or closing; Waiting how many the manager waits
	// for; Shed how many connections it must close (its lease cannot be
	// counted on, or it is above its fair share while others wait).
	Held, InUse, Waiting, Shed int
	// LeaseValid says whether the process can count on its lease now;
	// Lease is its id (0 when it has none): its key is Prefix+"h/"+hex(Lease).
	LeaseValid bool
	Lease      int64
	// Refused counts fetches that found the fleet at its cap; Misses the
	// TryAcquire calls that found no permit at hand.
	Refused, Misses uint64
	// Fetches and Returns count the transactions that took or gave back
	// permits; Renewals the lease renewals; LeaseLosses the leases lost;
	// EtcdErrors failed etcd calls.
	Fetches, Returns, Renewals, LeaseLosses, EtcdErrors uint64
	// FetchTime is the total time spent in successful fetches (a read and a
	// transaction each).
	FetchTime time.Duration
}

// Stats returns a snapshot; zero for a Budget not from New.
func (b *Budget) Stats() Stats {
	if !b.fromNew() {
		return Stats{}
	}
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.st
	s.Held, s.InUse, s.Waiting = b.held, b.inUse, b.want
	s.FleetCap = b.capNow
	s.LeaseValid = b.leaseValid(now)
	s.Lease = int64(b.lease)
	if over := b.inUse - b.allowed(now); over > 0 {
		s.Shed = over
	}
	return s
}

var _ manager.SessionBudgetStats = (*Budget)(nil)

// FleetStats is Stats in the manager's terms, so that manager.Stats().Fleet
// and the manager's idpool.fleet.* metrics show the budget. Its Cap is the
// cap the fleet keeps to (Stats' FleetCap).
func (b *Budget) FleetStats() manager.FleetStats {
	if !b.fromNew() {
		return manager.FleetStats{}
	}
	s := b.Stats()
	// The cap the fleet keeps to (FleetCap), not this process's own
	// configured Cap: when the processes state different caps, the fleet
	// keeps to the smallest, and a timeout's message naming the larger
	// ("held 2 of cap 4, the fleet 2") would not say why nothing was left.
	return manager.FleetStats{Budget: "etcd budget " + b.cfg.Prefix, Cap: s.FleetCap, FleetHeld: s.FleetHeld,
		Held: s.Held, InUse: s.InUse, Waiting: s.Waiting, Shed: s.Shed, LeaseValid: s.LeaseValid,
		Refused: s.Refused, Misses: s.Misses, Fetches: s.Fetches, Returns: s.Returns, Renewals: s.Renewals,
		LeaseLosses: s.LeaseLosses, Errors: s.EtcdErrors, FetchTime: s.FetchTime}
}
