package decide

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Unix(1_700_000_000, 0)

// step feeds in and returns the kinds of the effects, with a copy of them.
func step(m *Manager, in Input) ([]EffectKind, []Effect) {
	m.Step(t0, in)
	effs := append([]Effect(nil), m.Ready()...)
	m.Advance()
	kinds := make([]EffectKind, len(effs))
	for i, e := range effs {
		kinds[i] = e.Kind
	}
	return kinds, effs
}

func TestFirstAcquireSpawnsThenPublishesThenForwards(t *testing.T) {
	m := New(Config{Server: "srv"})
	kinds, effs := step(m, Acquire{Disc: "a", UsesToken: true})
	require.Equal(t, []EffectKind{EffSpawn, EffPublish, EffForward}, kinds)
	assert.Equal(t, "a", effs[0].Disc)
	assert.True(t, effs[0].Config.UsesToken)
	assert.Equal(t, "srv", effs[0].Config.Key.Server())
	kinds, effs2 := step(m, Acquire{Disc: "a"})
	assert.Equal(t, []EffectKind{EffForward}, kinds, "a second acquire reuses the pool")
	assert.Equal(t, effs[0].Pool, effs2[0].Pool)
	_, effs3 := step(m, Acquire{Disc: "b"})
	assert.NotEqual(t, effs[0].Pool, effs3[0].Pool)
	assert.NotEqual(t, effs[0].Config.Seed, effs3[0].Config.Seed, "each pool its own seed")
}

func TestRetirementNeedsSentEqualSeen(t *testing.T) {
	m := New(Config{Server: "srv"})
	_, effs := step(m, Acquire{Disc: "a"})
	id := effs[0].Pool

	kinds, _ := step(m, RetireRequest{Pool: id, Seen: 1})
	require.Equal(t, []EffectKind{EffCloseRoute}, kinds, "the route closes before sent is read")
	kinds, _ = step(m, RouteClosed{Pool: id, Sent: 2})
	require.Equal(t, []EffectKind{EffReopenRoute}, kinds, "an acquire is on its way: refused")
	got, ok := m.Pool("a")
	require.True(t, ok)
	assert.Equal(t, id, got)

	step(m, RetireRequest{Pool: id, Seen: 2})
	kinds, effs = step(m, RouteClosed{Pool: id, Sent: 2})
	require.Equal(t, []EffectKind{EffWithdraw, EffClosePool}, kinds)
	assert.True(t, effs[1].Retire)
	_, ok = m.Pool("a")
	assert.False(t, ok)
	assert.EqualValues(t, 1, m.Retired())
	assert.Equal(t, 1, m.Draining())

	kinds, effs = step(m, Acquire{Disc: "a"})
	require.Equal(t, []EffectKind{EffSpawn, EffPublish, EffForward}, kinds, "a fresh pool for the identity")
	assert.NotEqual(t, id, effs[0].Pool)

	kinds, _ = step(m, Drained{Pool: id, Seen: 2, Sent: 2})
	assert.Equal(t, []EffectKind{EffStop}, kinds)
	assert.Zero(t, m.Draining())
}

func TestRetireRequestIgnoredWhenStaleOrClosed(t *testing.T) {
	m := New(Config{})
	kinds, _ := step(m, RetireRequest{Pool: 42, Seen: 0})
	assert.Empty(t, kinds, "unknown pool")
	_, effs := step(m, Acquire{Disc: "a"})
	step(m, Close{})
	kinds, _ = step(m, RetireRequest{Pool: effs[0].Pool, Seen: 1})
	assert.Empty(t, kinds, "closing pool")
}

func TestCloseClosesEveryPoolAndReportsClosedOnceAllDrained(t *testing.T) {
	m := New(Config{})
	_, a := step(m, Acquire{Disc: "a"})
	_, b := step(m, Acquire{Disc: "b"})
	kinds, effs := step(m, Close{})
	require.Equal(t, []EffectKind{EffWithdraw, EffClosePool, EffWithdraw, EffClosePool}, kinds)
	assert.Equal(t, a[0].Pool, effs[0].Pool, "oldest first")
	assert.False(t, effs[1].Retire)
	kinds, _ = step(m, Acquire{Disc: "a"})
	assert.Equal(t, []EffectKind{EffFailClosed}, kinds)
	kinds, _ = step(m, ForceClose{})
	assert.Equal(t, []EffectKind{EffForceClose, EffForceClose}, kinds)

	kinds, _ = step(m, Drained{Pool: a[0].Pool, Seen: 1, Sent: 2})
	assert.Empty(t, kinds, "an acquire may still reach it: not stopped")
	kinds, _ = step(m, Drained{Pool: b[0].Pool, Seen: 1, Sent: 1})
	assert.Equal(t, []EffectKind{EffStop, EffClosed}, kinds)
	kinds, _ = step(m, Close{})
	assert.Empty(t, kinds, "idempotent")
}

func TestPermitsStealFromTheRichestAndRefuseFills(t *testing.T) {
	m := New(Config{MaxTotal: 2})
	_, a := step(m, Acquire{Disc: "a"})
	_, b := step(m, Acquire{Disc: "b"})
	pa, pb := a[0].Pool, b[0].Pool
	assert.True(t, a[0].Config.NeedsPermit)
	kinds, _ := step(m, PermitRequest{Pool: pa})
	require.Equal(t, []EffectKind{EffGrantPermit}, kinds)
	step(m, PermitRequest{Pool: pa})
	kinds, _ = step(m, PermitRequest{Pool: pb, Fill: true})
	assert.Equal(t, []EffectKind{EffRefuseFill}, kinds, "a fill at the cap is refused, not paid for")
	kinds, effs := step(m, PermitRequest{Pool: pb})
	require.Equal(t, []EffectKind{EffSteal}, kinds)
	assert.Equal(t, pa, effs[0].Pool)
	inUse, waiting := m.Permits()
	assert.Equal(t, 2, inUse)
	assert.Equal(t, 1, waiting)

	kinds, _ = step(m, StealRefused{Pool: pa})
	assert.Empty(t, kinds, "nobody else to ask")
	kinds, effs = step(m, PermitReturn{Pool: pa})
	require.Equal(t, []EffectKind{EffGrantPermit}, kinds)
	assert.Equal(t, pb, effs[0].Pool)

	step(m, PermitRequest{Pool: pb})
	kinds, _ = step(m, Close{})
	assert.Contains(t, kinds, EffDenyPermit)
	kinds, _ = step(m, PermitRequest{Pool: pa})
	assert.Equal(t, []EffectKind{EffDenyPermit}, kinds)
}

func TestManagerStepBeforeAdvancePanics(t *testing.T) {
	m := New(Config{})
	m.Step(t0, Acquire{Disc: "a"})
	effs := m.Ready()
	assert.PanicsWithError(t, errStepBeforeAdvance.Error(), func() { m.Step(t0, Acquire{Disc: "b"}) })
	assert.Len(t, effs, 3)
	m.Advance()
	m.Step(t0, Acquire{Disc: "b"})
}
