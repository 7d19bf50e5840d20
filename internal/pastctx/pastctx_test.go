package pastctx_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/idpool/idpool/internal/pastctx"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// timers is a clock whose AfterFunc only records: the test runs the timer
// when it wants, after checking the grace asked for.
type timers struct {
	mu    sync.Mutex
	asked chan time.Duration
	due   []func()
	armed atomic.Int64 // see arm
	// stopped gets a value each time a stop keeps a timer from running:
	// Track's timer is armed on the ctx's goroutine, which may stop it
	// itself after Stop has returned (see pastctx.Calls.armGrace), so a
	// test waits for the stop rather than reading armed at once.
	stopped chan struct{}
}

func newTimers() *timers {
	return &timers{asked: make(chan time.Duration, 4), stopped: make(chan struct{}, 64)}
}

func (c *timers) afterFunc(d time.Duration, f func()) {
	c.mu.Lock()
	c.due = append(c.due, f)
	c.mu.Unlock()
	c.asked <- d
}

// arm is the tests' pastctx.Arm: its stop keeps f from running and
// says whether it had not run yet; armed counts those neither run nor
// stopped.
func (c *timers) arm(d time.Duration, f func()) func() bool {
	var done atomic.Bool
	c.armed.Add(1)
	c.afterFunc(d, func() {
		if done.CompareAndSwap(false, true) {
			c.armed.Add(-1)
			f()
		}
	})
	return func() bool {
		if done.CompareAndSwap(false, true) {
			c.armed.Add(-1)
			select {
			case c.stopped <- struct{}{}:
			default: // no test waits for this many
			}
			return true
		}
		return false
	}
}

func (c *timers) fire() {
	c.mu.Lock()
	due := c.due
	c.due = nil
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
}

func TestACallPastItsCtxAndTheGraceIsCutOnce(t *testing.T) {
	clock := newTimers()
	ctx, cancel := context.WithCancel(context.Background())
	cuts := 0
	w := pastctx.Start(ctx, 3*time.Second, clock.arm, func() func() { cuts++; return nil })
	require.NotNil(t, w)
	cancel()
	assert.Equal(t, 3*time.Second, <-clock.asked, "the grace starts when the ctx ends")
	assert.Zero(t, cuts, "no cut before the grace has passed")
	clock.fire()
	assert.Equal(t, 1, cuts)
	assert.True(t, w.Stop(), "Stop says the call was cut")
	assert.True(t, w.Stop(), "and says so again")
	assert.Equal(t, 1, cuts)
}

func TestACallThatEndsFirstIsNeverCut(t *testing.T) {
	clock := newTimers()
	ctx, cancel := context.WithCancel(context.Background())
	w := pastctx.Start(ctx, time.Second, clock.arm, func() func() { t.Error("cut after Stop"); return nil })
	cancel()
	<-clock.asked
	assert.False(t, w.Stop(), "the call ended before the grace passed")
	assert.False(t, w.Stop(), "and says so again")
	clock.fire() // the grace's timer fires late: nothing happens
}

func TestAStoppedWatchAsksForNoTimer(t *testing.T) {
	clock := newTimers()
	ctx, cancel := context.WithCancel(context.Background())
	w := pastctx.Start(ctx, time.Second, clock.arm, func() func() { t.Error("cut"); return nil })
	assert.False(t, w.Stop())
	cancel()
	// A callback left on the ctx would run in the goroutine
	// context.AfterFunc starts once the ctx ends: give it time to.
	select {
	case d := <-clock.asked:
		t.Errorf("a grace of %s began for a call that had ended", d)
	case <-time.After(500 * time.Millisecond):
	}
}

func TestNothingIsWatchedOnACtxThatCannotEnd(t *testing.T) {
	w := pastctx.Start(context.Background(), time.Second, newTimers().arm, func() func() { return nil })
	assert.Nil(t, w)
	assert.False(t, w.Stop(), "a nil Watch was never cut")
}

// A cut that panics is contained, and counts as done.
func TestACutThatPanicsIsContained(t *testing.T) {
	clock := newTimers()
	ctx, cancel := context.WithCancel(context.Background())
	w := pastctx.Start(ctx, time.Second, clock.arm, func() func() { panic("cut panicked") })
	cancel()
	<-clock.asked
	assert.NotPanics(t, clock.fire)
	assert.True(t, w.Stop())
}

// Stop returns only once a cut under way has finished: after it, nothing
// touches the connection.
func TestStopWaitsForACutUnderWay(t *testing.T) {
	clock := newTimers()
	ctx, cancel := context.WithCancel(context.Background())
	inCut, release := make(chan struct{}), make(chan struct{})
	var cutDone bool
	w := pastctx.Start(ctx, time.Second, clock.arm, func() func() {
		close(inCut)
		<-release
		cutDone = true
		return nil
	})
	cancel()
	<-clock.asked
	go clock.fire()
	<-inCut
	stopped := make(chan bool)
	go func() { stopped <- w.Stop() }()
	close(release)
	assert.True(t, <-stopped)
	assert.True(t, cutDone, "Stop returned before the cut had finished") // -race also checks the order
}

func TestCallsCutOnlyACallInFlight(t *testing.T) {
	clock := newTimers()
	ctx, cancel := context.WithCancel(context.Background())
	cuts := 0
	c := pastctx.Track(ctx, time.Second, clock.arm, func() func() { cuts++; return nil })
	require.NotNil(t, c)
	require.True(t, c.Enter())
	c.Exit()
	cancel()
	assert.Equal(t, time.Second, <-clock.asked)
	clock.fire()
	assert.Zero(t, cuts, "no call was in flight")
	assert.False(t, c.Enter(), "a call begun after the grace is not c's to watch")
	assert.False(t, c.Stop())
}

func TestCallsCutTheCallInFlight(t *testing.T) {
	clock := newTimers()
	ctx, cancel := context.WithCancel(context.Background())
	cuts := 0
	c := pastctx.Track(ctx, time.Second, clock.arm, func() func() { cuts++; return nil })
	require.True(t, c.Enter())
	cancel()
	<-clock.asked
	clock.fire()
	assert.Equal(t, 1, cuts)
	c.Exit()
	assert.False(t, c.Enter(), "after a cut, later calls are not c's")
	assert.True(t, c.Stop(), "Stop says a call was cut")
}

func TestStoppedCallsCutNothing(t *testing.T) {
	clock := newTimers()
	ctx, cancel := context.WithCancel(context.Background())
	c := pastctx.Track(ctx, time.Second, clock.arm, func() func() { t.Error("cut after Stop"); return nil })
	require.True(t, c.Enter())
	c.Exit()
	assert.False(t, c.Stop())
	assert.False(t, c.Enter(), "no call after Stop")
	cancel()
	clock.fire()
	var nilCalls *pastctx.Calls
	assert.False(t, nilCalls.Enter())
	assert.False(t, nilCalls.Stop())
	assert.Nil(t, pastctx.Track(context.Background(), time.Second, clock.arm, func() func() { return nil }))
}

// Exit returns only once a cut under way has finished.
func TestExitWaitsForACutUnderWay(t *testing.T) {
	clock := newTimers()
	ctx, cancel := context.WithCancel(context.Background())
	inCut, release := make(chan struct{}), make(chan struct{})
	var cutDone bool
	c := pastctx.Track(ctx, time.Second, clock.arm, func() func() {
		close(inCut)
		<-release
		cutDone = true
		return nil
	})
	require.True(t, c.Enter())
	cancel()
	<-clock.asked
	go clock.fire()
	<-inCut
	exited := make(chan struct{})
	go func() { c.Exit(); close(exited) }()
	close(release)
	<-exited
	assert.True(t, cutDone, "Exit returned before the cut had finished") // -race also checks the order
	assert.True(t, c.Stop())
}

func TestACallStartedEndedIsCutOnceTheGraceHasPassed(t *testing.T) {
	clock := newTimers()
	cuts := 0
	w := pastctx.StartEnded(3*time.Second, clock.arm, func() func() { cuts++; return nil })
	assert.Equal(t, 3*time.Second, <-clock.asked, "the grace starts at once")
	assert.Zero(t, cuts, "no cut before the grace has passed")
	clock.fire()
	assert.Equal(t, 1, cuts)
	assert.True(t, w.Stop(), "Stop says the call was cut")

	w = pastctx.StartEnded(3*time.Second, clock.arm, func() func() { cuts++; return nil })
	<-clock.asked
	assert.False(t, w.Stop(), "a call that ended within the grace was not cut")
	assert.Zero(t, clock.armed.Load(), "Stop stopped the grace's timer: nothing it holds stays armed")
	clock.fire()
	assert.Equal(t, 1, cuts, "nor is it once the grace has passed")
}

// A watch stopped after its ctx ended, with no call cut, stops the grace's
// timer: one left armed would hold cut, and whatever cut holds (a lease
// and its connection), for the rest of the grace.
func TestAWatchStoppedAfterItsCtxEndedLeavesNoTimerArmed(t *testing.T) {
	clock := newTimers()
	ctx, cancel := context.WithCancel(context.Background())
	c := pastctx.Track(ctx, time.Second, clock.arm, func() func() { t.Error("a call that was not in flight was cut"); return nil })
	cancel()
	assert.Equal(t, time.Second, <-clock.asked, "the ctx's end armed the grace")
	assert.EqualValues(t, 1, clock.armed.Load())
	assert.False(t, c.Stop())
	select {
	case <-clock.stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the grace's timer was never stopped")
	}
	assert.Zero(t, clock.armed.Load(), "Stop stopped the grace's timer")
	clock.fire()
}

// What a cut returns to follow it runs after the cut counts as done: Stop
// and Exit wait for the cut, not for it, so a follow-up that blocks (a log
// handler) holds up neither the call's end nor the watch's; its panic is
// recovered as the cut's is.
func TestWhatFollowsACutIsNotWaitedFor(t *testing.T) {
	for _, stop := range []struct {
		name string
		end  func(*pastctx.Calls) bool
	}{
		{"Stop", func(c *pastctx.Calls) bool { return c.Stop() }},
		{"Exit", func(c *pastctx.Calls) bool { c.Exit(); return true }},
	} {
		t.Run(stop.name, func(t *testing.T) {
			clock := newTimers()
			ctx, cancel := context.WithCancel(context.Background())
			inThen, release := make(chan struct{}), make(chan struct{})
			var cut bool
			c := pastctx.Track(ctx, time.Second, clock.arm, func() func() {
				cut = true
				return func() {
					close(inThen)
					<-release
					panic("the follow-up panicked")
				}
			})
			require.True(t, c.Enter())
			cancel()
			<-clock.asked
			fired := make(chan struct{})
			go func() { defer close(fired); clock.fire() }()
			<-inThen
			ended := make(chan bool, 1)
			go func() { ended <- stop.end(c) }()
			select {
			case ok := <-ended:
				assert.True(t, ok, "ended while the follow-up blocks")
			case <-time.After(10 * time.Second):
				close(release)
				t.Fatal(stop.name + " waited for what follows the cut")
			}
			assert.True(t, cut) // -race checks the cut happened before
			close(release)
			<-fired // the panic did not escape the timer's goroutine
		})
	}
}
