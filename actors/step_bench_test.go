package actors

import (
	"testing"
	"time"

	"github.com/idpool/idpool/tokens"
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

// BenchmarkStepHitToken is BenchmarkStepHit for a pool configured as the
// manager's defaults configure one of a token identity (lifetime, idle
// timeout, retirement, token threshold), stepped with a reading of the
// system clock (monotonic, as SystemClock gives) and a token whose expiry
// carries none (as a token source gives): the comparisons take the paths
// they take in production.
func BenchmarkStepHitToken(b *testing.B) {
	p := New(PoolConfig{Key: "k", MaxSize: 8, UsesToken: true, TokenThreshold: 5 * time.Minute,
		MaxLifetime: 30 * time.Minute, LifetimeJitter: 3 * time.Minute, IdleTimeout: 5 * time.Minute,
		RetireAfter: 10 * time.Minute})
	now := SystemClock{}.Now()
	tok := tokens.Token{Value: "t", ExpiresOn: now.Add(time.Hour).Round(0)}
	p.Step(now, Start{})
	p.Step(now, Acquire{ID: 1})
	p.Advance()
	p.Step(now, MintDone{Token: tok})
	p.Advance()
	p.Step(now, DialDone{Conn: fakeConn(1), Token: tok})
	p.Advance()
	p.Step(now, Release{Conn: 1})
	p.Advance()
	b.ReportAllocs()
	for i := range b.N {
		hitAndRelease(b, p, now, uint64(i)+2)
	}
}

// hitAndRelease steps p through an acquire that must be granted at once
// and the release of its connection, as a benchmark's loop does.
func hitAndRelease(b *testing.B, p *Pool, now time.Time, id uint64) {
	p.Step(now, Acquire{ID: id})
	e := p.Ready()
	if len(e) == 0 || e[0].Kind != EffGrant {
		b.Fatalf("not a hit: %v", e)
	}
	c := e[0].Conn
	p.Advance()
	p.Step(now, Release{Conn: c})
	p.Ready()
	p.Advance()
}
