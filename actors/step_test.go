package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A driver that steps the pool while it is still carrying out the effects of
// the last Ready (re-entrantly, from inside an effect) would have its list
// overwritten under it: Step refuses, loudly, and works again after Advance.
func TestStepBeforeAdvancePanics(t *testing.T) {
	p := New(PoolConfig{Key: "k", MaxSize: 1})
	now := time.Unix(1_700_000_000, 0)
	p.Step(now, Start{})
	p.Step(now, Acquire{ID: 1}) // Steps before Ready accumulate
	effs := p.Ready()
	require.Len(t, effs, 1)
	require.Equal(t, EffDial, effs[0].Kind)
	assert.PanicsWithError(t, "actors: Pool.Step before Advance: the effects from Ready are still being carried out",
		func() { p.Step(now, DialDone{Conn: fakeConn(1)}) })
	assert.Equal(t, EffDial, effs[0].Kind, "the handed-out list is untouched")
	p.Advance()
	p.Step(now, DialDone{Conn: fakeConn(1)})
	effs = p.Ready()
	require.Len(t, effs, 1)
	assert.Equal(t, EffGrant, effs[0].Kind)
	assert.EqualValues(t, 1, effs[0].AcquireID)
	assert.Equal(t, fakeConn(1), effs[0].Resource)
	p.Advance()
	assert.Empty(t, p.Ready(), "Advance empties the list")
}

// The hit path, Acquire then Release of an idle connection, allocates
// nothing in the state machine: the inputs are values that do not escape and
// the effect list is reused.
func TestStepHitPathAllocatesNothing(t *testing.T) {
	p := New(PoolConfig{Key: "k", MaxSize: 1})
	now := time.Unix(1_700_000_000, 0)
	step := func(in Input) []Effect {
		p.Step(now, in)
		effs := p.Ready()
		p.Advance()
		return effs
	}
	step(Start{})
	step(Acquire{ID: 1})
	step(DialDone{Conn: fakeConn(1)})
	step(Release{Conn: 1})
	id := uint64(1)
	allocs := testing.AllocsPerRun(1000, func() {
		id++
		p.Step(now, Acquire{ID: id})
		e := p.Ready()[0]
		p.Advance()
		p.Step(now, Release{Conn: e.Conn})
		p.Ready()
		p.Advance()
	})
	assert.Zero(t, allocs)
}
