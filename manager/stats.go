package manager

import (
	"github.com/idpool/idpool/messages"
	"github.com/idpool/idpool/tokens"
)

// PoolStats is a snapshot of one pool; see messages.PoolStats.
type PoolStats = messages.PoolStats

// Stats is a snapshot of a Manager.
type Stats struct {
	// Pools is the number of live pools; PoolsCreated and PoolsRetired count
	// since New.
	Pools                      int
	PoolsCreated, PoolsRetired uint64
	// PermitsInUse counts connections open, dialing or still closing under
	// Config.MaxTotal (a permit comes back once its close has finished), and
	// PermitWaiters the pools' requests queued for room under it.
	PermitsInUse, PermitWaiters int
	// Total sums every live pool's gauges and counters, plus the counters of
	// pools that have retired or closed. Its Wait histogram merges them all.
	Total PoolStats
	// PerPool has one snapshot per pool, in no particular order: the live
	// ones, and those retiring or closing that still have connections
	// (PoolStats.Closing).
	PerPool []PoolStats
	// ByKind sums the pools of each identity kind as Total sums them all,
	// keyed by tokens.Kind's String ("managed-identity", ...): what the
	// metrics report by default.
	ByKind map[string]PoolStats
	// Fleet is this process's share of Config.Fleet, when that budget
	// implements SessionBudgetStats; nil otherwise.
	Fleet *FleetStats
}

// copyCounters returns a copy of s whose Closes map is its own.
func copyCounters(s PoolStats) PoolStats {
	closes := make(map[string]uint64, len(s.Closes))
	for k, v := range s.Closes {
		closes[k] = v
	}
	s.Closes = closes
	return s
}

// kindOf names the identity kind of a pool snapshot.
func kindOf(s PoolStats) string { return tokens.KindOf(s.Discriminator).String() }

// addCounters adds s's counters (not its gauges) into into.
func addCounters(into *PoolStats, s PoolStats) {
	into.Acquires += s.Acquires
	into.Hits += s.Hits
	into.Misses += s.Misses
	into.Timeouts += s.Timeouts
	into.Cancels += s.Cancels
	into.Exhausted += s.Exhausted
	into.Opens += s.Opens
	into.DialFailures += s.DialFailures
	into.TokenMints += s.TokenMints
	into.MintFailures += s.MintFailures
	into.Rotations += s.Rotations
	into.StaleDrained += s.StaleDrained
	into.ExpiredClosed += s.ExpiredClosed
	into.BlockedPeriods += s.BlockedPeriods
	into.BlockedFails += s.BlockedFails
	into.Refreshes += s.Refreshes
	into.Evictions += s.Evictions
	into.CredentialChanges += s.CredentialChanges
	into.CredentialRetries += s.CredentialRetries
	if into.Closes == nil {
		into.Closes = make(map[string]uint64)
	}
	for k, v := range s.Closes {
		into.Closes[k] += v
	}
	into.Wait.Merge(&s.Wait)
}

func addGauges(into *PoolStats, s PoolStats) {
	into.MaxSize += s.MaxSize
	into.Open += s.Open
	into.Idle += s.Idle
	into.Busy += s.Busy
	into.Dialing += s.Dialing
	into.Waiters += s.Waiters
	into.AwaitingPermit += s.AwaitingPermit
	into.Owed += s.Owed
	into.ClosingConns += s.ClosingConns
	into.Checking += s.Checking
	into.Minting += s.Minting
}
