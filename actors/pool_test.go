package actors

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStartOpensMinSizeAndGrowsLazilyToMaxSize(t *testing.T) {
	h := newHarness(t, PoolConfig{MinSize: 2, MaxSize: 4})
	require.Len(t, h.dials, 2, "MinSize dials at start")
	h.finishDials()
	assert.Equal(t, 2, h.p.Stats().Idle)

	a, b := h.acquire(), h.acquire()
	h.mustGrant(a)
	h.mustGrant(b)
	assert.Empty(t, h.dials, "idle connections served without dialing")

	c := h.acquire()
	require.Len(t, h.dials, 1, "grows by one dial per uncovered waiter")
	d := h.acquire()
	require.Len(t, h.dials, 2)
	e := h.acquire()
	assert.Len(t, h.dials, 2, "never beyond MaxSize")
	h.finishDials()
	h.mustGrant(c)
	h.mustGrant(d)
	_, answered := h.answer(e)
	assert.False(t, answered, "fifth acquire waits")
	assert.Equal(t, 4, h.p.Stats().Open)
}

func TestReuseIsLIFO(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 3})
	a, b := h.acquire(), h.acquire()
	h.finishDials()
	ca, cb := h.mustGrant(a), h.mustGrant(b)
	h.release(a, false)
	h.release(b, false)
	next := h.acquire()
	assert.Equal(t, cb, h.mustGrant(next), "most recently returned first")
	next2 := h.acquire()
	assert.Equal(t, ca, h.mustGrant(next2))
}

func TestWaitersAreServedInArrivalOrder(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 1})
	holder := h.acquire()
	h.finishDials()
	h.mustGrant(holder)
	w1, w2, w3 := h.acquire(), h.acquire(), h.acquire()
	h.release(holder, false)
	h.mustGrant(w1)
	_, ok := h.answer(w2)
	assert.False(t, ok)
	h.release(w1, false)
	h.mustGrant(w2)
	h.release(w2, false)
	h.mustGrant(w3)
}

func TestFinishedDialServesTheOldestWaiter(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 2})
	w1, w2 := h.acquire(), h.acquire()
	require.Len(t, h.dials, 2)
	h.finishDial(nil)
	h.mustGrant(w1)
	_, ok := h.answer(w2)
	assert.False(t, ok)
}

func TestFailedDialFreesItsSlotAndFailsAWaiterWithTheCause(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 1})
	w1, w2 := h.acquire(), h.acquire()
	require.Len(t, h.dials, 1)
	cause := errors.New("login refused")
	h.finishDial(cause)
	e, ok := h.answer(w1)
	require.True(t, ok)
	require.Equal(t, EffFail, e.Kind)
	assert.ErrorIs(t, e.Err, cause)
	var de *DialError
	require.ErrorAs(t, e.Err, &de)
	assert.NotContains(t, e.Err.Error(), "test:id", "pool key printed redacted")
	require.Len(t, h.dials, 1, "the freed slot dials for the next waiter")
	h.finishDial(nil)
	h.mustGrant(w2)
	assert.Equal(t, 1, h.p.Stats().Open)
}

func TestMaxSizeHoldsUnderConcurrentAndFailingDials(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 3})
	for range 10 {
		h.acquire()
	}
	require.Len(t, h.dials, 3)
	for range 20 {
		h.finishDial(errors.New("down"))
		require.LessOrEqual(t, len(h.dials), 3)
		if len(h.dials) == 0 {
			break
		}
	}
	assert.LessOrEqual(t, h.p.size(), 3)
}

func TestMaxWaitersShedsLoad(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 1, MaxWaiters: 2})
	h.acquire()
	h.acquire()
	shed := h.acquire()
	e, ok := h.answer(shed)
	require.True(t, ok)
	assert.ErrorIs(t, e.Err, ErrPoolExhausted)
	assert.EqualValues(t, 1, h.p.Stats().Exhausted)
}

func TestCancelWithdrawsAQueuedAcquireOnly(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 1})
	a := h.acquire()
	h.finishDials()
	h.mustGrant(a)
	w := h.acquire()
	h.cancel(w)
	e, ok := h.answer(w)
	require.True(t, ok)
	assert.Equal(t, EffCancelled, e.Kind)
	h.cancel(a) // already granted: nothing happens
	assert.Len(t, h.answers[a], 1)
	h.release(a, false)
	assert.Equal(t, 1, h.p.Stats().Idle, "cancelled waiter got nothing")
	assert.EqualValues(t, 1, h.p.Stats().Timeouts)
}

func TestBrokenReleaseClosesAndDialsForTheWaiter(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 1})
	a := h.acquire()
	h.finishDials()
	h.mustGrant(a)
	w := h.acquire()
	h.release(a, true)
	assert.Equal(t, 1, h.closeReasons()[ReasonBroken])
	assert.Empty(t, h.dials, "the broken session counts against MaxSize until its close finishes")
	h.finishCloses()
	require.Len(t, h.dials, 1)
	h.finishDial(nil)
	h.mustGrant(w)
}

func TestIdleTimeoutClosesDownToMinSizeOldestFirst(t *testing.T) {
	h := newHarness(t, PoolConfig{MinSize: 1, MaxSize: 3, IdleTimeout: time.Minute})
	a, b, c := h.acquire(), h.acquire(), h.acquire()
	h.finishDials()
	h.release(a, false)
	h.advance(10 * time.Second)
	h.release(b, false)
	h.advance(10 * time.Second)
	h.release(c, false)
	h.advance(55 * time.Second) // a idle 75s, b 65s, c 55s
	h.tick()
	assert.Equal(t, 2, h.closeReasons()[ReasonIdleTimeout])
	assert.Equal(t, 1, h.p.Stats().Idle)
	h.advance(time.Hour)
	h.tick()
	assert.Equal(t, 1, h.p.Stats().Open, "MinSize is kept")
}

func TestLifetimeIsEnforcedOnReleaseCheckoutAndWhileIdle(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 3, MaxLifetime: time.Minute, LifetimeJitter: 10 * time.Second, Seed: 1})
	a, b, c := h.acquire(), h.acquire(), h.acquire()
	h.finishDials()
	h.release(b, false)
	h.release(c, false)
	h.advance(61 * time.Second)
	h.release(a, false) // on release
	assert.Equal(t, 1, h.closeReasons()[ReasonLifetime])
	n := h.acquire() // on checkout: both idle are dead, so a new dial
	assert.Equal(t, 3, h.closeReasons()[ReasonLifetime])
	h.finishCloses() // their sessions count against MaxSize until closed
	h.finishDials()
	h.mustGrant(n)
	h.release(n, false)
	h.advance(2 * time.Minute)
	h.tick() // while idle
	assert.EqualValues(t, 4, h.p.Stats().Closes[ReasonLifetime.String()])
}

func TestLifetimeJitterSpreadsDeadlines(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 50, MaxLifetime: time.Hour, LifetimeJitter: 10 * time.Minute, Seed: 42})
	for range 50 {
		h.acquire()
	}
	h.finishDials()
	distinct := map[time.Time]bool{}
	for _, c := range h.p.conns {
		assert.True(t, c.deadline.After(h.now.Add(50*time.Minute)))
		assert.False(t, c.deadline.After(h.now.Add(time.Hour)))
		distinct[c.deadline] = true
	}
	assert.Greater(t, len(distinct), 40)
}

func TestHealthCheckReplacesADeadIdleConnectionSilently(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 2, HealthCheckAfter: time.Second})
	a := h.acquire()
	h.finishDials()
	h.release(a, false)
	h.advance(2 * time.Second)
	b := h.acquire()
	require.Len(t, h.validates, 1, "idle long enough: checked first")
	_, ok := h.answer(b)
	require.False(t, ok)
	h.finishValidate(false)
	assert.Equal(t, 1, h.closeReasons()[ReasonFailedHealthCheck])
	require.Len(t, h.dials, 1)
	h.finishDial(nil)
	h.mustGrant(b)

	h.release(b, false)
	c := h.acquire()
	h.mustGrant(c) // just returned: no check
	assert.Len(t, h.validates, 0)
}

// TestBrokenReleaseGetsIdleSiblingsCheckedBeforeReuse: one connection back
// broken (a restart kills every session at once) makes the pool check its
// idle connections before their next grant, however recently they were used;
// a connection that passes its check, or one idle when nothing broke, goes
// out unchecked.
func TestBrokenReleaseGetsIdleSiblingsCheckedBeforeReuse(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 3, HealthCheckAfter: time.Hour})
	a, b, c := h.acquire(), h.acquire(), h.acquire()
	h.finishDials()
	h.release(b, false)
	h.release(c, false)
	h.release(a, true) // the first sign of the restart
	d := h.acquire()
	require.Len(t, h.validates, 1, "a suspect idle connection is checked first")
	h.finishValidate(false) // dead too
	require.Len(t, h.validates, 1, "and the next one")
	h.finishValidate(true)
	checked := h.mustGrant(d)
	h.release(d, false)
	e := h.acquire()
	assert.Equal(t, checked, h.mustGrant(e), "checked and back: no new check")
	assert.Empty(t, h.validates)
	assert.Equal(t, map[CloseReason]int{ReasonBroken: 1, ReasonFailedHealthCheck: 1}, h.closeReasons())
}

func TestHealthyCheckedConnectionGoesToItsWaiter(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 1, HealthCheckAfter: time.Second})
	a := h.acquire()
	h.finishDials()
	ca := h.mustGrant(a)
	h.release(a, false)
	h.advance(time.Minute)
	b := h.acquire()
	h.finishValidate(true)
	assert.Equal(t, ca, h.mustGrant(b))
}

func TestCloseFailsWaitersClosesIdleAndBusyOnRelease(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 2})
	a, b := h.acquire(), h.acquire()
	h.finishDials()
	h.release(b, false)
	h.acquire() // takes b's conn
	w := h.acquire()
	h.step(Close{})
	e, _ := h.answer(w)
	assert.ErrorIs(t, e.Err, ErrClosed)
	late := h.acquire()
	e, _ = h.answer(late)
	assert.ErrorIs(t, e.Err, ErrClosed)
	h.finishCloses()
	assert.Zero(t, h.drained, "busy connections still out")
	h.release(a, false)
	h.release(3, false)
	assert.Equal(t, 2, h.closeReasons()[ReasonPoolClosed])
	h.finishCloses()
	assert.Equal(t, 1, h.drained)
	h.step(Close{})
	assert.Equal(t, 1, h.drained, "Close is idempotent")
}

func TestCloseWaitsForDialsInFlight(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 2})
	h.acquire()
	h.step(Close{})
	assert.Zero(t, h.drained)
	h.finishDial(nil)
	require.Len(t, h.closes, 1, "a connection that lands after Close is closed")
	h.finishCloses()
	assert.Equal(t, 1, h.drained)
}

func TestReleaseOfUnknownConnIsIgnored(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 1})
	a := h.acquire()
	h.finishDials()
	c := h.mustGrant(a)
	h.release(a, false)
	h.step(Release{Conn: c}) // double release
	h.step(Release{Conn: 99})
	assert.Equal(t, 1, h.p.Stats().Idle)
	assert.EqualValues(t, 2, h.p.stats.badReleases)
}

func TestRetireIsAskedOnlyWhenQuiet(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 1, RetireAfter: time.Minute})
	a := h.acquire()
	h.finishDials()
	h.advance(2 * time.Minute)
	h.tick()
	assert.Empty(t, h.retires, "a lease is out")
	h.release(a, false)
	h.advance(59 * time.Second)
	h.tick()
	assert.Empty(t, h.retires)
	h.advance(2 * time.Minute)
	h.tick()
	assert.Empty(t, h.retires, "not before its connection has closed")
	h.finishCloses()
	require.Equal(t, []uint64{1}, h.retires, "reports the acquires it has seen")
	h.tick()
	assert.Len(t, h.retires, 1, "asks once")
}

func TestStatsCountHitsMissesAndWaits(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 1})
	a := h.acquire()
	h.finishDials()
	h.release(a, false)
	b := h.acquire()
	w := h.acquire()
	h.advance(3 * time.Millisecond)
	h.release(b, false)
	h.mustGrant(w)
	s := h.p.Stats()
	assert.EqualValues(t, 3, s.Acquires)
	assert.EqualValues(t, 1, s.Misses)
	assert.EqualValues(t, 2, s.Hits)
	assert.EqualValues(t, 3, s.Wait.Count(), "every grant recorded")
	assert.Equal(t, 3*time.Millisecond, s.Wait.Max)
}

func TestQueuedAcquireFailsAtItsOwnDeadline(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 1})
	a := h.acquire()
	h.finishDials()
	h.mustGrant(a)
	h.nextAcq++
	timed := h.nextAcq
	h.step(Acquire{ID: timed, ReplyTo: h.replyFor(timed), Timeout: 100 * time.Millisecond})
	require.NotEmpty(t, h.wakes)
	assert.Equal(t, h.now.Add(100*time.Millisecond), h.wakes[len(h.wakes)-1], "wakes for the deadline")
	untimed := h.acquire()
	h.advance(99 * time.Millisecond)
	h.tick()
	_, ok := h.answer(timed)
	assert.False(t, ok, "not yet")
	h.advance(time.Millisecond)
	h.tick()
	e, ok := h.answer(timed)
	require.True(t, ok)
	assert.ErrorIs(t, e.Err, ErrAcquireTimeout)
	assert.ErrorIs(t, e.Err, context.DeadlineExceeded)
	assert.Contains(t, e.Err.Error(), "1 waiting", "the queue it gave up on")
	_, ok = h.answer(untimed)
	assert.False(t, ok, "a waiter without a deadline keeps waiting")
	h.release(a, false)
	h.mustGrant(untimed)
	assert.EqualValues(t, 1, h.p.Stats().Timeouts)
}

func TestFailedDialsStartABlockingPeriodThatFailsFastAndEndsOnSuccess(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 2, DialBackoff: time.Second, DialBackoffMax: 4 * time.Second, Seed: 3})
	cause := errors.New("login failed")
	a0 := h.acquire()
	h.finishDial(cause)
	assert.False(t, h.p.blocked(h.now), "one failure does not block")
	a := h.acquire()
	require.Len(t, h.dials, 1, "the next caller still dials")
	h.finishDial(cause)
	for _, id := range []uint64{a0, a} {
		e, _ := h.answer(id)
		assert.ErrorIs(t, e.Err, cause)
	}

	b := h.acquire()
	e, ok := h.answer(b)
	require.True(t, ok, "fails at once, no queueing")
	var be *BlockedError
	require.ErrorAs(t, e.Err, &be)
	assert.ErrorIs(t, e.Err, cause, "carries the last dial error")
	assert.Empty(t, h.dials, "nothing dialled while blocked")
	first := be.Until.Sub(h.now)
	assert.InDelta(t, float64(time.Second), float64(first), float64(200*time.Millisecond), "backoff with jitter")

	h.advance(first)
	c := h.acquire()
	require.Len(t, h.dials, 1, "after the period the pool tries again")
	h.finishDial(cause)
	e, _ = h.answer(c)
	require.Error(t, e.Err)
	d := h.acquire()
	e, _ = h.answer(d)
	require.ErrorAs(t, e.Err, &be)
	assert.InDelta(t, float64(2*time.Second), float64(be.Until.Sub(h.now)), float64(400*time.Millisecond), "doubles")

	h.advance(3 * time.Second)
	f := h.acquire()
	h.finishDial(nil)
	h.mustGrant(f)
	g := h.acquire()
	require.Len(t, h.dials, 1, "success ended the blocking period")
	h.finishDial(nil)
	h.mustGrant(g)
	s := h.p.Stats()
	assert.EqualValues(t, 2, s.BlockedPeriods)
	assert.EqualValues(t, 2, s.BlockedFails)
}

func TestBlockingPeriodKeepsWaitersThatALeaseWillServe(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 2, DialBackoff: time.Second})
	a := h.acquire()
	h.finishDial(nil)
	h.mustGrant(a)
	b0 := h.acquire()
	h.finishDial(errors.New("refused"))
	e, _ := h.answer(b0)
	require.Error(t, e.Err)
	b := h.acquire()
	h.finishDial(errors.New("refused"))
	c := h.acquire()
	e, _ = h.answer(b)
	require.Error(t, e.Err, "the waiter the dial was for gets its error")
	_, ok := h.answer(c)
	assert.False(t, ok, "one lease is out: one waiter may wait for it")
	d := h.acquire()
	e, ok = h.answer(d)
	require.True(t, ok)
	assert.ErrorAs(t, e.Err, new(*BlockedError))
	h.release(a, false)
	h.mustGrant(c)
}

func TestABusyPoolPastItsRetirementTimeDoesNotSpin(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 1, RetireAfter: time.Minute})
	a := h.acquire()
	h.finishDials()
	h.mustGrant(a)
	h.advance(2 * time.Minute) // the lease outlives RetireAfter
	h.tick()
	require.NotEmpty(t, h.wakes)
	assert.Equal(t, h.now.Add(time.Minute), h.wakes[len(h.wakes)-1], "next look a RetireAfter later, not now")
	h.release(a, false)
	h.advance(time.Minute)
	h.tick()
	h.finishCloses()
	assert.Len(t, h.retires, 1, "retires a RetireAfter after the release")
}

func TestARefusedRetirementIsAskedAgainAfterTheRacingAcquire(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 1, IdleTimeout: time.Hour, RetireAfter: time.Minute})
	a := h.acquire()
	h.finishDials()
	h.release(a, false)
	h.advance(time.Minute)
	h.tick()
	assert.Empty(t, h.retires, "not before its connection has closed")
	h.finishCloses()
	require.Equal(t, []uint64{1}, h.retires)
	// The manager refuses: an acquire was already on its way. The pool
	// emptied itself to retire, so it dials.
	b := h.acquire()
	h.finishDials()
	h.mustGrant(b)
	h.release(b, false)
	require.NotEmpty(t, h.wakes)
	assert.False(t, h.wakes[len(h.wakes)-1].After(h.now.Add(time.Minute)), "a Tick within RetireAfter, not at the idle timeout")
	h.advance(time.Minute)
	h.tick()
	h.finishCloses()
	assert.Equal(t, []uint64{1, 2}, h.retires, "asks again, with the new count")
}

// A DialBackoff over about 2.5 hours with no DialBackoffMax doubled past the
// largest time.Duration after 22 failed dials in a row: the period wrapped
// negative and its jitter panicked inside Step. Doubling now saturates, and
// every period still ends after it begins.
func TestAHugeDialBackoffSaturatesInsteadOfWrapping(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 1, DialBackoff: 3 * time.Hour, Seed: 3})
	cause := errors.New("login failed")
	var last time.Duration
	for failures := 0; failures < 26; {
		a := h.acquire()
		if len(h.dials) == 1 {
			h.finishDial(cause)
			failures++
		}
		e, ok := h.answer(a)
		require.True(t, ok)
		var be *BlockedError
		if errors.As(e.Err, &be) {
			period := be.Until.Sub(h.now)
			require.Positive(t, period, "after %d failures", failures)
			require.GreaterOrEqual(t, period, last*8/10, "a period never shrinks past its jitter (after %d failures)", failures)
			last = period
			h.advance(period)
		}
	}
	assert.Greater(t, last, 100*365*24*time.Hour, "saturated near the largest period, not wrapped")
}
