package actors

import (
	"errors"
	"testing"
	"time"

	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/require"
)

// TestAHeldFillWhoseWakeWasReplacedRefillsOnceTheHoldHasPassed: a MinSize
// fill held after two failed dials (no blocking period, see
// holdFailingFill) asked for a Tick at fillRetryAt, but the pool has one
// timer: an earlier Tick (a waiter's deadline here) recomputed the wakes
// and left fillRetryAt out while the pool was at MinSize. Once the hold
// had passed, nothing cleared it: a connection closed later (a broken
// release, the server long back) left the pool below MinSize with no fill
// and no wake to start one, until an unrelated Tick (PoolIdleTimeout's,
// minutes later) or the next acquire. A hold that has passed holds nothing.
func TestAHeldFillWhoseWakeWasReplacedRefillsOnceTheHoldHasPassed(t *testing.T) {
	refused := errors.New("login refused")
	h := newHarness(t, PoolConfig{MinSize: 1, MaxSize: 3})
	h.finishDial(nil) // the MinSize fill
	a1 := h.acquire()
	h.mustGrant(a1)

	// Two acquires' dials fail: the fill is held for fillRetryAfter.
	for range 2 {
		a := h.acquire()
		h.finishDial(refused)
		e, ok := h.answer(a)
		require.True(t, ok)
		require.Equal(t, EffFail, e.Kind)
	}
	require.True(t, h.p.fillHeld)

	// An acquire bounded by the pool: its deadline's Tick comes first.
	h.acquireWithin(5 * time.Second)
	h.advance(5 * time.Second)
	h.tick()
	h.finishDial(refused) // its dial, for no one now

	// Before the hold ends, the leased connection comes back broken: the
	// pool is below MinSize, and refills once the hold has passed, at the
	// Tick the driver gives it when asked (and only then).
	h.advance(time.Second)
	h.release(a1, true)
	h.finishCloses()
	require.Empty(t, h.dials, "held")
	h.runTimersFor(time.Minute)
	require.Len(t, h.dials, 1, "the hold has passed: the pool refills")
}

// runTimersFor moves the clock on by d, Ticking the pool whenever a wake
// it asked for comes due, as the actor's timer does.
func (h *harness) runTimersFor(d time.Duration) {
	h.t.Helper()
	end := h.now.Add(d)
	for i := 0; !h.p.wakeAt.IsZero() && !h.p.wakeAt.After(end); i++ {
		require.Less(h.t, i, 1000, "the pool keeps asking for a Tick at %s", h.p.wakeAt)
		if h.p.wakeAt.After(h.now) {
			h.now = h.p.wakeAt
		}
		h.tick()
	}
	h.now = end
}

// TestAFailingFillHoldEndsWithTheFailures: with no blocking period
// (DialBackoff off), two failed dials or mints hold the MinSize fill for
// fillRetryAfter (holdFailingFill), in place of the period. What ends a
// period (a dial that succeeds: the server is back; a new credential after
// failed mints) left the hold in place, so a pool configured to retry at
// once stayed below MinSize for up to 10s after its server recovered, where
// one with a blocking period refilled at once. A hold made at the global cap
// (permitRefused) is not the failures' and stays.
func TestAFailingFillHoldEndsWithTheFailures(t *testing.T) {
	refused := errors.New("login refused")
	t.Run("a dial succeeds", func(t *testing.T) {
		h := newHarness(t, PoolConfig{MinSize: 2, MaxSize: 3})
		for len(h.dials) > 0 {
			h.finishDial(refused)
		}
		require.True(t, h.p.fillHeld, "two failures in a row hold the fill")
		a := h.acquire() // an acquire dials at once, hold or not
		h.finishDial(nil)
		h.mustGrant(a)
		require.Len(t, h.dials, 1, "the server is back: the fill goes on at once")
	})
	t.Run("a new credential", func(t *testing.T) {
		h := newHarness(t, PoolConfig{MinSize: 1, MaxSize: 3, UsesToken: true, TokenThreshold: time.Second})
		for h.mints > 0 {
			h.finishMint(tokens.Token{}, refused)
		}
		require.True(t, h.p.fillHeld, "two failures in a row hold the fill")
		h.step(NewCredential{})
		require.Equal(t, 1, h.mints, "the new credential may well succeed: the fill mints with it at once")
	})
	t.Run("the cap's hold stays", func(t *testing.T) {
		h := newHarness(t, PoolConfig{MinSize: 2, MaxSize: 3, NeedsPermit: true})
		// Bounded: a refused fill that is asked again at once (no hold)
		// would make this loop spin until the test binary's timeout.
		for i := 0; h.refuseFill(); i++ {
			require.Less(t, i, 10, "a refused fill is asked again at once: no hold")
		}
		require.True(t, h.p.fillHeld)
		a := h.acquire()
		h.grantPermit()
		h.finishDial(nil)
		h.mustGrant(a)
		require.Zero(t, h.permitAsks, "no fill asked before fillRetryAfter")
	})
}
