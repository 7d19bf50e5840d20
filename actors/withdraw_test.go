package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Under a global cap, a permit request whose waiter is gone is withdrawn,
// so that the manager takes no connection from another pool for it.

func TestWithdrawPermitWhenWaitersTimeOutOrCancel(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 3, NeedsPermit: true})
	a := h.acquireWithin(time.Second)
	b := h.acquireWithin(time.Second)
	c := h.acquire()
	require.Equal(t, 3, h.permitAsks, "one permit request per waiter")
	assert.Empty(t, h.wdSeq)

	h.cancel(c)
	assert.Len(t, h.wdSeq, 1, "a cancelled waiter's request is withdrawn")
	assert.Equal(t, 3, h.p.Stats().AwaitingPermit, "it counts until answered")

	h.advance(time.Second)
	h.tick()
	for _, id := range []uint64{a, b} {
		e, ok := h.answer(id)
		require.True(t, ok)
		require.Equal(t, EffFail, e.Kind)
	}
	assert.Len(t, h.wdSeq, 3, "so are the timed-out waiters'")

	for len(h.wdSeq) > 0 {
		h.answerWithdraw() // the manager removed each from its queue
	}
	assert.Zero(t, h.permitAsks)
	s := h.p.Stats()
	assert.Zero(t, s.AwaitingPermit)
	assert.Zero(t, s.Waiters)
	assert.Empty(t, h.dials)
	assert.Zero(t, h.permitsHeld)
}

func TestWithdrawKeepsTheRequestsWaitersStillNeed(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 3, NeedsPermit: true})
	h.acquire()
	b := h.acquire()
	require.Equal(t, 2, h.permitAsks)
	h.cancel(b)
	require.Len(t, h.wdSeq, 1, "one waiter is left, and so is one request")
	h.answerWithdraw()
	assert.Equal(t, 1, h.permitAsks)
	assert.Equal(t, 1, h.p.Stats().AwaitingPermit)
}

func TestWithdrawKeepsMinSizeFills(t *testing.T) {
	h := newHarness(t, PoolConfig{MinSize: 1, MaxSize: 3, NeedsPermit: true})
	require.Equal(t, 1, h.permitAsks, "the MinSize fill")
	a := h.acquire()
	require.Equal(t, 1, h.permitAsks, "the fill covers the waiter")
	h.cancel(a)
	assert.Empty(t, h.wdSeq, "MinSize still needs it")
}

func TestGrantCrossingAWithdrawalIsReturned(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 3, NeedsPermit: true})
	a := h.acquire()
	h.cancel(a)
	require.Len(t, h.wdSeq, 1)
	// The manager granted the request before it read the withdrawal.
	h.grantPermit()
	assert.Empty(t, h.dials, "no waiter wants it")
	assert.Zero(t, h.permitsHeld, "handed straight back")
	assert.Zero(t, h.p.Stats().AwaitingPermit)
	h.answerWithdraw()
	assert.Empty(t, h.dials)
	assert.Zero(t, h.permitAsks, "nothing asked again")
	assert.Zero(t, h.p.withdrawing())
	assert.False(t, h.p.withdrawalsInFlight())
}

func TestGrantCrossingAWithdrawalServesAWaiterThatCameMeanwhile(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 1, NeedsPermit: true})
	a := h.acquire()
	h.cancel(a)
	b := h.acquire()
	assert.Equal(t, 1, h.permitAsks, "at MaxSize: b waits for the withdrawal's answer")
	h.grantPermit() // granted before the manager read the withdrawal
	require.Len(t, h.dials, 1, "b takes the grant")
	h.answerWithdraw()
	assert.Zero(t, h.permitAsks, "the withdrawal found nothing left: nothing asked again")
	h.finishDials()
	h.mustGrant(b)
	assert.Zero(t, h.p.Stats().AwaitingPermit)
}

func TestWaiterArrivingDuringAWithdrawalGetsAFreshRequest(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 1, NeedsPermit: true})
	a := h.acquire()
	h.cancel(a)
	b := h.acquire()
	require.Equal(t, 1, h.permitAsks, "the request being withdrawn still holds the only slot")
	h.answerWithdraw() // removed from the manager's queue
	require.Equal(t, 1, h.permitAsks, "b asks anew")
	assert.Greater(t, h.reqSeq[0], uint64(2), "a fresh request, sent after the withdrawal")
	h.grantPermit()
	h.finishDials()
	h.mustGrant(b)

	// With room under MaxSize the newcomer does not wait for the answer.
	h = newHarness(t, PoolConfig{MaxSize: 3, NeedsPermit: true})
	a = h.acquire()
	h.cancel(a)
	h.acquire()
	assert.Equal(t, 2, h.permitAsks)
	assert.Len(t, h.wdSeq, 1)
	h.answerWithdraw()
	assert.Equal(t, 1, h.permitAsks)
}

func TestStealCancelledForgivesAnUnpaidDebt(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 3, NeedsPermit: true})
	a := h.acquire()
	h.grantPermit()
	h.finishDials()
	h.mustGrant(a)
	h.steal()
	require.Equal(t, 1, h.p.Stats().Owed, "nothing idle: the next release would pay")
	h.step(StealCancelled{})
	assert.Zero(t, h.p.Stats().Owed)
	h.release(a, false)
	assert.Zero(t, h.closeReasons()[ReasonStolen], "the connection stays")
	assert.Equal(t, 1, h.p.Stats().Idle)

	h.steal() // idle: paid at once
	require.Equal(t, 1, h.closeReasons()[ReasonStolen])
	h.step(StealCancelled{})
	assert.Zero(t, h.p.Stats().Owed, "a paid debt is nothing to cancel")
}

// stepWithdrawals steps in and returns the GaveUp flag of each
// EffWithdrawPermit it emitted.
func stepWithdrawals(h *harness, in Input) []bool {
	h.t.Helper()
	var gaveUp []bool
	for _, e := range stepWithdrawEffects(h, in) {
		gaveUp = append(gaveUp, e.GaveUp)
	}
	return gaveUp
}

// stepWithdrawEffects steps in and returns the EffWithdrawPermit it emitted.
func stepWithdrawEffects(h *harness, in Input) []Effect {
	h.t.Helper()
	h.p.Step(h.now, in)
	effs := h.p.Ready()
	var out []Effect
	for _, e := range effs {
		if e.Kind == EffWithdrawPermit {
			out = append(out, e)
		}
	}
	h.apply(effs)
	h.p.Advance()
	return out
}

// A request made for a waiter that gave up is withdrawn even while the pool
// is below MinSize, marked Fill: the manager takes it back if it is queued
// (where it would take another pool's connection) and leaves it if granted
// or waiting at the fleet gate. A fill covering a waiter that gave up is
// kept, unasked.
func TestWithdrawRequestKeptOnlyForMinSizeIfQueued(t *testing.T) {
	h := newHarness(t, PoolConfig{MinSize: 1, MaxSize: 3, NeedsPermit: true})
	require.Equal(t, 1, h.permitAsks, "the MinSize fill")
	a := h.acquire()
	b := h.acquire()
	require.Equal(t, 2, h.permitAsks, "the fill covers a, a request b")

	w := stepWithdrawEffects(h, Cancel{ID: b})
	require.Len(t, w, 1, "b's request is not needed: the fill keeps MinSize")
	assert.False(t, w[0].Fill)
	h.answerWithdraw()
	require.Equal(t, 1, h.permitAsks)
	// Which of the two the manager took back is a count: the one left
	// covers a, and MinSize.
	w = stepWithdrawEffects(h, Cancel{ID: a})
	require.Len(t, w, 1, "the one left may be the request made for a waiter: withdrawn if queued")
	assert.True(t, w[0].Fill)
	assert.True(t, w[0].GaveUp)
	h.answerWithdraw() // the manager had it queued: removed
	assert.Equal(t, 1, h.permitAsks, "MinSize asks again, with a fill, which the manager refuses at the cap")

	// Only fills outstanding: nothing is asked back.
	c := h.acquire()
	assert.Empty(t, stepWithdrawEffects(h, Cancel{ID: c}))
	assert.Equal(t, 1, h.permitAsks)
}

// A withdrawal says whether its waiter gave up (timed out or cancelled):
// only then may its caller be told it waited for the fleet. One served by a
// connection released meanwhile did not.
func TestWithdrawSaysWhetherItsWaiterGaveUp(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 3, NeedsPermit: true})
	h.acquire()
	h.grantPermit()
	h.finishDial(nil)
	held := h.heldIDs()
	require.Len(t, held, 1)
	b := h.acquire()
	h.acquireWithin(time.Second)
	require.Equal(t, 2, h.permitAsks)

	assert.Equal(t, []bool{true}, stepWithdrawals(h, Cancel{ID: b}), "cancelled")
	h.advance(time.Second)
	assert.Equal(t, []bool{true}, stepWithdrawals(h, Tick{}), "timed out")
	for len(h.wdSeq) > 0 {
		h.answerWithdraw()
	}

	c := h.acquire()
	require.Equal(t, 1, h.permitAsks)
	delete(h.granted, held[0])
	conn := h.p.conns[0].id
	delete(h.holder, conn)
	assert.Equal(t, []bool{false}, stepWithdrawals(h, Release{Conn: conn}), "served by the release")
	assert.Equal(t, EffGrant, h.answers[c][0].Kind)
}

// TestARefusedFillIsAskedAgainOnlyAfterFillRetryAfter: a pool below MinSize
// whose fill was refused at the global cap asks again once fillRetryAfter
// has passed, not at a Tick that came before for something else (here a
// waiter's deadline): every such Tick used to cost the manager a refusal.
func TestARefusedFillIsAskedAgainOnlyAfterFillRetryAfter(t *testing.T) {
	h := newHarness(t, PoolConfig{MinSize: 1, MaxSize: 2, NeedsPermit: true})
	require.Equal(t, 1, h.permitAsks, "the MinSize fill")
	h.reqSeq, h.permitAsks = h.reqSeq[1:], 0
	h.step(PermitRefused{})
	a := h.acquireWithin(time.Second)
	require.Equal(t, 1, h.permitAsks, "a waiter asks for itself, fill or not")
	h.advance(time.Second)
	h.tick() // the waiter's deadline, long before fillRetryAfter
	_, answered := h.answer(a)
	require.True(t, answered, "the waiter timed out")
	require.Len(t, h.wdSeq, 1, "its request is withdrawn")
	h.answerWithdraw()
	assert.Zero(t, h.permitAsks, "no fill asked again before fillRetryAfter")
	h.advance(fillRetryAfter)
	h.tick()
	assert.Equal(t, 1, h.permitAsks, "asked again once fillRetryAfter has passed")
}

// TestAStealWithACloseInFlightClosesAnIdleConnectionAtOnce: a steal that
// reaches a pool with idle connections and a close in flight closes an idle
// one at once, rather than counting on the close in flight to pay it: that
// close may hang (a Dialer's Close, a BeforeClose hook, a dead peer), and
// the waiter the steal is for would wait as long (a review found this in a
// version that let the close in flight pay). The cost, when the close does
// finish, is one permit back that pays no steal: room for the next request.
func TestAStealWithACloseInFlightClosesAnIdleConnectionAtOnce(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 3, NeedsPermit: true})
	ids := []uint64{h.acquire(), h.acquire(), h.acquire()}
	for range ids {
		h.grantPermit()
	}
	h.finishDials()
	h.release(ids[0], false)
	h.release(ids[1], false)
	h.release(ids[2], true) // broken: its close is in flight, and may hang
	require.Len(t, h.closes, 1)

	h.steal()
	assert.Equal(t, 1, h.closeReasons()[ReasonStolen], "an idle connection pays the steal at once")
	assert.Equal(t, 1, h.p.Stats().Idle)
}
