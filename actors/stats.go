package actors

import (
	"time"

	"github.com/idpool/idpool/messages"
)

// counters are the pool's monotonic counts since it started.
type counters struct {
	acquires, hits, misses, timeouts, cancels, exhausted uint64
	opens, dialFailures, mints, mintFailures             uint64
	rotations, staleDrained, expiredClosed, badReleases  uint64
	blockedPeriods, blockedFails, refreshes              uint64
	closes                                               [numReasons]uint64
}

func (p *Pool) recordWait(d time.Duration) { p.wait.record(d) }

// Stats returns a snapshot of the pool.
func (p *Pool) Stats() messages.PoolStats {
	s := messages.PoolStats{
		Closing:           p.closing,
		Key:               p.cfg.Key.Redacted(),
		Discriminator:     p.cfg.Key.Discriminator(),
		MaxSize:           p.cfg.MaxSize,
		Open:              len(p.conns),
		Idle:              len(p.idle),
		Busy:              p.busy,
		Dialing:           p.dialing + p.awaitingToken,
		AwaitingPermit:    p.awaitingPermit,
		Owed:              p.owed,
		ClosingConns:      p.closesInFlight,
		Checking:          p.checkingCount(),
		Minting:           boolInt(p.minting),
		Waiters:           p.waiters.live,
		Acquires:          p.stats.acquires,
		Hits:              p.stats.hits,
		Misses:            p.stats.misses,
		Timeouts:          p.stats.timeouts,
		Cancels:           p.stats.cancels,
		Exhausted:         p.stats.exhausted,
		Opens:             p.stats.opens,
		DialFailures:      p.stats.dialFailures,
		TokenMints:        p.stats.mints,
		MintFailures:      p.stats.mintFailures,
		Rotations:         p.stats.rotations,
		StaleDrained:      p.stats.staleDrained,
		ExpiredClosed:     p.stats.expiredClosed,
		BlockedPeriods:    p.stats.blockedPeriods,
		BlockedFails:      p.stats.blockedFails,
		Refreshes:         p.stats.refreshes,
		Evictions:         p.evictions(),
		CredentialChanges: uint64(p.cred.gen),
		CredentialRetries: p.cred.retries,
		Closes:            make(map[string]uint64),
	}
	for r, n := range p.stats.closes {
		if n > 0 {
			s.Closes[CloseReason(r).String()] = n
		}
	}
	s.Wait = p.wait.histogram()
	return s
}

// checkingCount counts the connections in a health or token check.
func (p *Pool) checkingCount() int {
	n := 0
	for _, c := range p.conns {
		if c.state == connChecking {
			n++
		}
	}
	return n
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
