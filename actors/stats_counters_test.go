package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The acquire counters mean what messages.PoolStats says: a queued acquire
// withdrawn counts in Cancels or Timeouts by what ended it, one failed at
// its deadline in Timeouts, and a grant that crossed its caller's Cancel
// (the pool granted before it saw the Cancel) in Misses or Hits only: the
// Cancel finds nothing queued and counts nothing.
func TestAcquireCountersRecordThePoolsDecisions(t *testing.T) {
	p := New(PoolConfig{Key: "k", MaxSize: 1})
	now := time.Unix(1_700_000_000, 0)
	p.Step(now, Start{})
	step := func(in Input) []Effect {
		t.Helper()
		p.Step(now, in)
		effs := append([]Effect(nil), p.Ready()...)
		p.Advance()
		return effs
	}

	effs := step(Acquire{ID: 1})
	require.Equal(t, EffDial, effs[0].Kind)
	effs = step(DialDone{Conn: fakeConn(1)})
	require.Equal(t, EffGrant, effs[0].Kind)
	conn := effs[0].Conn
	require.Empty(t, step(Cancel{ID: 1}), "a Cancel that crossed its grant withdraws nothing")

	// Two callers queue behind the lease: one cancels, one times out by
	// its caller's ctx deadline; a third is failed by its AcquireTimeout.
	step(Acquire{ID: 2})
	step(Acquire{ID: 3})
	step(Acquire{ID: 4, Timeout: time.Second})
	require.Equal(t, EffCancelled, step(Cancel{ID: 2})[0].Kind)
	require.Equal(t, EffCancelled, step(Cancel{ID: 3, Timeout: true})[0].Kind)
	now = now.Add(time.Second)
	effs = step(Tick{})
	require.NotEmpty(t, effs)
	assert.Equal(t, EffFail, effs[0].Kind)
	var te *TimeoutError
	require.ErrorAs(t, effs[0].Err, &te)

	step(Release{Conn: conn})
	_, ok := p.StepHit(now, Acquire{ID: 5})
	require.True(t, ok, "the connection back idle is a hit")

	s := p.Stats()
	assert.EqualValues(t, 5, s.Acquires)
	assert.EqualValues(t, 1, s.Misses, "the grant that crossed its Cancel")
	assert.EqualValues(t, 1, s.Hits)
	assert.EqualValues(t, 1, s.Cancels)
	assert.EqualValues(t, 2, s.Timeouts, "one by its caller's deadline, one by AcquireTimeout")
}
