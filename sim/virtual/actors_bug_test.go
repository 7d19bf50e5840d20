package virtual

import (
	"os"
	"testing"
	"time"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/require"
)

// TestPoolTickSpinsWhileLeaseOutlivesRetireAfter demonstrates a bug in
// actors.Pool found by the simulation: once a lease has been out longer
// than RetireAfter and nothing else happens, every Tick asks for another
// Tick at the same instant. rescheduleWake takes lastActivity+RetireAfter
// (already past, clamped to now) as the next wake even though maybeRetire
// will not ask to retire a pool with a lease out, so the pool actor would
// spin on its timer for as long as the lease is held (a long report query,
// a leaked lease). Expected: the next wake is later than now, or none.
func TestPoolTickSpinsWhileLeaseOutlivesRetireAfter(t *testing.T) {
	if os.Getenv("IDPOOL_KNOWN_BUGS") == "" {
		t.Skip("known bug in actors.Pool, reported to the lead; run with IDPOOL_KNOWN_BUGS=1 to see it fail")
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := actors.New(actors.PoolConfig{Key: tokens.NewKey("srv", "sim:a"), MaxSize: 1, RetireAfter: time.Second})
	p.Start(now)
	effs := p.Acquire(now, 1, "caller", 0)
	require.Equal(t, actors.EffDial, effs[0].Kind)
	effs = p.DialDone(now, "conn", tokens.Token{}, nil)
	require.Equal(t, actors.EffGrant, effs[0].Kind)

	now = now.Add(2 * time.Second) // the lease is still out
	for i := range 3 {
		for _, e := range p.Tick(now) {
			if e.Kind == actors.EffWake {
				require.True(t, e.At.After(now), "tick %d asks for another tick at the same instant %s", i, e.At)
			}
		}
	}
}

// TestKnownBugTimerSpin shows the same bug through the simulation: with
// queries that hold a lease longer than the pool idle timeout, pools spin
// on their timer, and the checker reports it under state_machine.
func TestKnownBugTimerSpin(t *testing.T) {
	if os.Getenv("IDPOOL_KNOWN_BUGS") == "" {
		t.Skip("known bug in actors.Pool, reported to the lead; run with IDPOOL_KNOWN_BUGS=1 to see it fail")
	}
	cfg := short()
	cfg.SlowQuery = time.Second
	cfg.Pool.PoolIdleTimeout = 500 * time.Millisecond
	r := run(t, cfg)
	require.Zero(t, r.Violations.StateMachine, "%v", r.ViolationSamples)
}
