package actors

import (
	"testing"
	"time"
)

// BenchmarkStepHitCold is BenchmarkStepHit over many pools, each stepped
// once in turn, so that every hit finds its pool's state out of the CPU's
// caches, as a pool actor does when many identities share the cores (see
// docs/BENCHMARKS.md, many_identities). What it measures is mostly how many
// cache lines a hit touches: the Pool's field order decides it.
func BenchmarkStepHitCold(b *testing.B) {
	const pools = 1 << 16 // ~50 MB of pool state: more than any cache
	now := time.Unix(1_700_000_000, 0)
	ps := make([]*Pool, pools)
	for i := range ps {
		p := New(PoolConfig{Key: "k", MaxSize: 2, RetireAfter: time.Minute, MaxLifetime: time.Hour, IdleTimeout: time.Minute, HealthCheckAfter: time.Second})
		p.Step(now, Start{})
		p.Step(now, Acquire{ID: 1})
		p.Advance()
		p.Step(now, DialDone{Conn: fakeConn(1)})
		p.Advance()
		p.Step(now, Release{Conn: 1})
		p.Advance()
		ps[i] = p
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		// A stride that is odd visits every pool once per round, in an
		// order the hardware prefetcher does not follow.
		hitAndRelease(b, ps[(i*40503)%pools], now, uint64(i)+2)
	}
}
