package actors

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/idpool/idpool/messages"
)

// counters are the pool's monotonic counts since it started.
type counters struct {
	acquires, hits, misses, timeouts, cancels, exhausted     uint64
	opens, dialFailures, mints, mintFailures, healthFailures uint64
	rotations, staleDrained, expiredClosed, badReleases      uint64
	blockedPeriods, blockedFails                             uint64
	closes                                                   [numReasons]uint64
}

// Wait histograms hold microseconds from 1 µs to one hour at two significant
// digits; they are allocated only once some acquire has actually waited, so a
// pool that never queues costs no histogram memory.
const (
	histLowest  = 1
	histHighest = int64(time.Hour / time.Microsecond)
	histDigits  = 2
)

func (p *Pool) recordWait(d time.Duration) {
	us := d.Microseconds()
	if us <= 0 && p.hist == nil {
		p.zeroWaits++
		return
	}
	if p.hist == nil {
		p.hist = hdrhistogram.New(histLowest, histHighest, histDigits)
		_ = p.hist.RecordValues(0, p.zeroWaits)
	}
	_ = p.hist.RecordValue(min(max(us, 0), histHighest))
}

// Stats returns a snapshot of the pool.
func (p *Pool) Stats() messages.PoolStats {
	s := messages.PoolStats{
		Key:            p.cfg.Key.Redacted(),
		Discriminator:  p.cfg.Key.Discriminator(),
		MaxSize:        p.cfg.MaxSize,
		Open:           len(p.conns),
		Idle:           len(p.idle),
		Busy:           p.busy,
		Dialing:        p.dialing + p.awaitingToken,
		AwaitingPermit: p.awaitingPermit,
		Owed:           p.owed,
		Waiters:        p.waiters.live,
		Acquires:       p.stats.acquires,
		Hits:           p.stats.hits,
		Misses:         p.stats.misses,
		Timeouts:       p.stats.timeouts,
		Cancels:        p.stats.cancels,
		Exhausted:      p.stats.exhausted,
		Opens:          p.stats.opens,
		DialFailures:   p.stats.dialFailures,
		TokenMints:     p.stats.mints,
		MintFailures:   p.stats.mintFailures,
		Rotations:      p.stats.rotations,
		StaleDrained:   p.stats.staleDrained,
		ExpiredClosed:  p.stats.expiredClosed,
		BlockedPeriods: p.stats.blockedPeriods,
		BlockedFails:   p.stats.blockedFails,
		Closes:         make(map[string]uint64),
	}
	for r, n := range p.stats.closes {
		if n > 0 {
			s.Closes[CloseReason(r).String()] = n
		}
	}
	if p.hist != nil {
		s.Wait = p.hist.Export()
	} else if p.zeroWaits > 0 {
		h := hdrhistogram.New(histLowest, histHighest, histDigits)
		_ = h.RecordValues(0, p.zeroWaits)
		s.Wait = h.Export()
	}
	return s
}
