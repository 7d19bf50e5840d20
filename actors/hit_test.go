package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// StepHit and StepHitRelease take a plain hit and its release, answering
// as Step would have; a driver that offers them a step while it is still
// carrying out the last Ready is refused as Step refuses it, and the pool
// is untouched.
func TestStepHitAnswersAPlainHitAndRefusesBeforeAdvance(t *testing.T) {
	// A lifetime, as the Manager's defaults have: the pool has a wake set
	// when a connection comes back (with none, the first release sets it,
	// through Step).
	p := New(PoolConfig{Key: "k", MaxSize: 1, MaxLifetime: time.Hour})
	now := time.Unix(1_700_000_000, 0)
	p.Step(now, Start{})
	_, ok := p.StepHit(now, Acquire{ID: 1})
	require.False(t, ok, "no idle connection: not a hit")
	p.Step(now, Acquire{ID: 1})
	require.Equal(t, EffDial, p.Ready()[0].Kind)
	p.Advance()
	p.Step(now, DialDone{Conn: fakeConn(1)})
	grant := p.Ready()[0]
	p.Advance()
	p.Step(now, Release{Conn: grant.Conn}) // the first release sets the wake for the lifetime
	require.Equal(t, EffWake, p.Ready()[0].Kind)
	p.Advance()

	g, ok := p.StepHit(now, Acquire{ID: 2})
	require.True(t, ok)
	assert.Equal(t, Grant{Conn: grant.Conn, Resource: fakeConn(1)}, g)
	require.True(t, p.StepHitRelease(now, Release{Conn: g.Conn}), "a healthy connection back to idle")
	_, ok = p.StepHit(now, Acquire{ID: 3})
	require.True(t, ok)
	s := p.Stats()
	assert.Equal(t, 1, s.Busy)
	assert.EqualValues(t, 3, s.Acquires)
	assert.EqualValues(t, 2, s.Hits)

	require.False(t, p.StepHitRelease(now, Release{Conn: grant.Conn, Broken: true}), "a broken release closes: not a hit")
	p.Step(now, Release{Conn: grant.Conn, Broken: true})
	effs := p.Ready()
	require.Len(t, effs, 1)
	assert.Equal(t, EffClose, effs[0].Kind)
	assert.PanicsWithError(t, errStepBeforeAdvance.Error(), func() { p.StepHit(now, Acquire{ID: 4}) })
	assert.PanicsWithError(t, errStepBeforeAdvance.Error(), func() { p.StepHitRelease(now, Release{Conn: grant.Conn}) })
	assert.Equal(t, EffClose, effs[0].Kind, "the handed-out list is untouched")
	p.Advance()
	assert.Equal(t, s.Acquires, p.Stats().Acquires, "the refused StepHit counted nothing")
}
