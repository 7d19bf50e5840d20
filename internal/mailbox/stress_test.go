package mailbox

import (
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestManyProducersKeepTheirOrderAndNothingIsLostOrDuplicated posts from many
// goroutines at once, Linked messages and others mixed, under both
// dispatchers: every message arrives exactly once (each one is checked off
// a list) and each producer's in the order it posted them.
func TestManyProducersKeepTheirOrderAndNothingIsLostOrDuplicated(t *testing.T) {
	const producers, each = 8, 3000
	for _, d := range []actor.Dispatcher{actor.NewSynchronizedDispatcher(50), actor.NewDefaultDispatcher(50)} {
		r := &recorder{last: map[int]int{}}
		seen := make([][]bool, producers)
		for p := range seen {
			seen[p] = make([]bool, each+1)
		}
		r.check = func(from, seq int) {
			if seen[from][seq] {
				panic("delivered twice")
			}
			seen[from][seq] = true
		}
		mb := newMailbox(r, d)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for p := range producers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := 1; i <= each; i++ {
					if (p+i)%2 == 0 {
						mb.PostUserMessage(&linkedMsg{from: p, seq: i})
					} else {
						mb.PostUserMessage(msg{p, i})
					}
					if i%1000 == 0 {
						mb.PostSystemMessage(&actor.Started{})
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		require.Eventually(t, func() bool { return mb.status.Load() == idle && mb.UserMessageCount() == 0 }, testWait, tick)
		require.Eventually(t, func() bool { return r.userDone.Load() == producers*each }, testWait, tick)
		assert.Zero(t, r.panics.Load(), "no message out of order or twice")
		assert.Zero(t, r.overlap.Load(), "never two messages processed at once")
		for p := range producers {
			assert.Equal(t, each, r.last[p], "producer %d: every message arrived", p)
		}
		assert.Equal(t, producers*3, r.system)
	}
}

// signalInvoker runs user messages that are funcs, so each test message can
// say what happens when it runs.
type signalInvoker struct{}

func (signalInvoker) InvokeSystemMessage(any)  {}
func (signalInvoker) InvokeUserMessage(m any)  { m.(func())() }
func (signalInvoker) EscalateFailure(any, any) {}

// TestAPostInTheIdleWindowIsRun stops the runner where it has found the
// queues empty but not yet marked the mailbox idle, and has another
// goroutine post there: that post sees the mailbox running and schedules
// nothing, so the runner must find the message on its last look.
func TestAPostInTheIdleWindowIsRun(t *testing.T) {
	for _, d := range []actor.Dispatcher{actor.NewSynchronizedDispatcher(50), actor.NewDefaultDispatcher(50)} {
		mb := Producer()().(*Mailbox)
		mb.RegisterHandlers(signalInvoker{}, d)
		ran := make(chan int, 2)
		var inWindow, posted chan struct{}
		hook := func(*Mailbox) {
			if inWindow != nil {
				close(inWindow)
				<-posted
				inWindow = nil // the runner's next pass goes straight through
			}
		}
		testHookBeforeIdle.Store(&hook)
		for round := range 200 {
			inWindow, posted = make(chan struct{}), make(chan struct{})
			go func() {
				<-inWindow
				mb.PostUserMessage(func() { ran <- 2 })
				close(posted)
			}()
			mb.PostUserMessage(func() { ran <- 1 })
			for want := 1; want <= 2; want++ {
				select {
				case got := <-ran:
					require.Equal(t, want, got)
				case <-time.After(testWait):
					testHookBeforeIdle.Store(nil)
					require.FailNow(t, "lost wakeup", "round %d: message %d never ran", round, want)
				}
			}
			require.Eventually(t, func() bool { return mb.status.Load() == idle }, testWait, tick)
		}
		testHookBeforeIdle.Store(nil)
	}
}

// TestPostsRacingTheIdleTransitionAreAlwaysRun: the first message's last act
// lets a second goroutine post, so that post races the runner going idle
// (without a hook, it lands wherever the scheduler puts it). Whichever way
// the race goes, the second message must run without any further post.
func TestPostsRacingTheIdleTransitionAreAlwaysRun(t *testing.T) {
	for _, d := range []actor.Dispatcher{actor.NewSynchronizedDispatcher(50), actor.NewDefaultDispatcher(50)} {
		mb := Producer()().(*Mailbox)
		mb.RegisterHandlers(signalInvoker{}, d)
		ran := make(chan struct{}, 1)
		second := func() { ran <- struct{}{} }
		for round := range 3000 {
			release := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				<-release
				mb.PostUserMessage(second)
			}()
			mb.PostUserMessage(func() { close(release) })
			select {
			case <-ran:
			case <-time.After(testWait):
				require.FailNow(t, "lost wakeup", "round %d: a message posted as the mailbox went idle never ran", round)
			}
			<-done
		}
		require.Eventually(t, func() bool { return mb.status.Load() == idle }, testWait, tick)
	}
}

// busyMailbox returns a mailbox whose runner is inside a message, on its own
// goroutine, until hold is closed; done is closed when that runner is done.
// Messages posted meanwhile queue.
func busyMailbox() (r *recorder, mb *Mailbox, hold, done chan struct{}) {
	r = &recorder{last: map[int]int{}}
	entered := make(chan struct{})
	hold, done = make(chan struct{}), make(chan struct{})
	r.block = func() { close(entered); <-hold }
	mb = newMailbox(r, actor.NewSynchronizedDispatcher(50))
	go func() {
		defer close(done)
		mb.PostUserMessage("block") // runs inline and waits for hold
	}()
	<-entered
	return r, mb, hold, done
}

// TestSystemMessagesOvertakeQueuedUserMessages: while the runner is busy,
// user messages queue, then a system message: it runs next, before them.
func TestSystemMessagesOvertakeQueuedUserMessages(t *testing.T) {
	r, mb, hold, done := busyMailbox()
	mb.PostUserMessage(msg{1, 1})
	mb.PostUserMessage(&linkedMsg{from: 1, seq: 2})
	mb.PostSystemMessage(&actor.Started{})
	mb.PostUserMessage(msg{1, 3})
	assert.Equal(t, 3, mb.UserMessageCount())
	close(hold)
	<-done
	assert.Equal(t, []string{"user", "system", "user", "user", "user"}, r.order)
	assert.Zero(t, mb.UserMessageCount())
}

// TestMessagesQueuedBehindAPanicStillRun: the runner recovers, escalates and
// goes on with the messages already queued, with no further post.
func TestMessagesQueuedBehindAPanicStillRun(t *testing.T) {
	r, mb, hold, done := busyMailbox()
	mb.PostUserMessage("panic")
	mb.PostUserMessage(msg{1, 1})
	mb.PostUserMessage(&linkedMsg{from: 1, seq: 2})
	close(hold)
	<-done
	assert.EqualValues(t, 1, r.panics.Load())
	assert.Equal(t, 2, r.last[1], "both messages behind the panic ran")
	assert.Equal(t, idle, mb.status.Load())
}

// TestASenderDoesNotOvertakeItsOwnQueuedMessage: between a runner marking
// the mailbox idle and its last look, the mailbox is idle with a message
// queued. A post then must not take the shortcut that hands its message
// straight to a new runner, or it would run before the one queued.
func TestASenderDoesNotOvertakeItsOwnQueuedMessage(t *testing.T) {
	r := &recorder{last: map[int]int{}}
	mb := newMailbox(r, actor.NewSynchronizedDispatcher(50))
	// The state of that window: queued, idle, no runner.
	mb.posted.Add(1)
	mb.user.push(msg{1, 1})
	mb.PostUserMessage(&linkedMsg{from: 1, seq: 2})
	assert.Zero(t, r.panics.Load(), "in order")
	assert.Equal(t, 2, r.last[1])
	assert.Zero(t, mb.UserMessageCount())
}
