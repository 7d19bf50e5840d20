package actors

import (
	"testing"
	"time"
)

// BenchmarkStepHit is the state machine's share of a pool hit: Acquire of
// an idle connection, then its Release, each through Step, Ready and
// Advance.
func BenchmarkStepHit(b *testing.B) {
	p := New(PoolConfig{Key: "k", MaxSize: 1, RetireAfter: time.Minute})
	now := time.Unix(1_700_000_000, 0)
	p.Step(now, Start{})
	p.Step(now, Acquire{ID: 1})
	p.Advance()
	p.Step(now, DialDone{Conn: fakeConn(1)})
	p.Step(now, Release{Conn: 1})
	p.Advance()
	b.ReportAllocs()
	for i := range b.N {
		p.Step(now, Acquire{ID: uint64(i) + 2})
		c := p.Ready()[0].Conn
		p.Advance()
		p.Step(now, Release{Conn: c})
		p.Ready()
		p.Advance()
	}
}
