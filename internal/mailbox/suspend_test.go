package mailbox

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestASuspendedIdleMailboxRunsNoUserMessage: suspended with nothing
// queued, the mailbox is idle and its queues empty, the state in which a
// sender hands its message straight to a runner it starts. It must not:
// the message waits for the resume like any other.
func TestASuspendedIdleMailboxRunsNoUserMessage(t *testing.T) {
	r := &recorder{last: map[int]int{}}
	mb := newMailbox(r, actor.NewSynchronizedDispatcher(10))
	mb.PostSystemMessage(&actor.SuspendMailbox{})
	require.Equal(t, idle, mb.status.Load())
	mb.PostUserMessage(msg{1, 1})
	assert.Zero(t, r.user, "suspended: the message waits")
	assert.Equal(t, 1, mb.UserMessageCount())
	mb.PostSystemMessage(&actor.ResumeMailbox{})
	assert.Equal(t, 1, r.user, "resumed: it runs")
	assert.Zero(t, mb.UserMessageCount())
}

// TestAUserPostDoesNotOvertakeAQueuedSystemMessage: in the window between
// a runner marking the mailbox idle and its last look, a system message may
// be queued on an idle mailbox. A user post then must not take the
// shortcut that runs its message first: system messages go first.
func TestAUserPostDoesNotOvertakeAQueuedSystemMessage(t *testing.T) {
	r := &recorder{last: map[int]int{}}
	mb := newMailbox(r, actor.NewSynchronizedDispatcher(10))
	mb.system.push(&actor.Started{}) // the state of that window
	mb.PostUserMessage(msg{1, 1})
	assert.Equal(t, []string{"system", "user"}, r.order)
}

// TestASuspendedMailboxWithUserMessagesGoesIdle: a runner that finds only
// user messages held by a suspension marks the mailbox idle and returns
// rather than looking again for ever.
func TestASuspendedMailboxWithUserMessagesGoesIdle(t *testing.T) {
	r := &recorder{last: map[int]int{}}
	mb := newMailbox(r, actor.NewSynchronizedDispatcher(10))
	mb.PostSystemMessage(&actor.SuspendMailbox{})
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		mb.status.Store(running) // queue behind a runner, then run
		mb.PostUserMessage(msg{1, 1})
		mb.status.Store(idle)
		mb.schedule()
	}()
	select {
	case <-returned:
	case <-time.After(testWait):
		require.FailNow(t, "the runner kept looking at messages a suspension holds")
	}
	assert.Equal(t, idle, mb.status.Load())
	assert.Zero(t, r.user)
	mb.PostSystemMessage(&actor.ResumeMailbox{})
	assert.Equal(t, 1, r.user)
}

// TestASystemPostInTheIdleWindowIsRun: as TestAPostInTheIdleWindowIsRun,
// for a system message: the runner's last look must find it too, or it
// would wait for the next post (a Stop, a Restart lost until then).
func TestASystemPostInTheIdleWindowIsRun(t *testing.T) {
	r := &recorder{last: map[int]int{}}
	mb := newMailbox(r, actor.NewSynchronizedDispatcher(10))
	hook := func(m *Mailbox) {
		if m == mb && r.system == 0 {
			mb.PostSystemMessage(&actor.Started{}) // sees the mailbox running: schedules nothing
		}
	}
	testHookBeforeIdle.Store(&hook)
	defer testHookBeforeIdle.Store(nil)
	mb.PostUserMessage(msg{1, 1})
	assert.Equal(t, []string{"user", "system"}, r.order)
	assert.Equal(t, idle, mb.status.Load())
}

// TestSystemMessagesLeftInATakenBatchAreRunPastTheLentBatch: the runner
// takes the system queue whole; when the lent batch runs out with part of
// it taken and not yet run, a fresh runner must run the rest (nothing new
// is posted to wake one).
func TestSystemMessagesLeftInATakenBatchAreRunPastTheLentBatch(t *testing.T) {
	r := &recorder{last: map[int]int{}}
	mb := newMailbox(r, actor.NewSynchronizedDispatcher(1000))
	const n = LentBatch + 36
	mb.status.Store(running) // queue them all behind a runner
	for range n {
		mb.PostSystemMessage(&actor.Started{})
	}
	mb.status.Store(idle)
	mb.schedule() // runs the batch here, the rest on another goroutine
	require.Eventually(t, func() bool { return mb.status.Load() == idle }, testWait, tick)
	assert.Equal(t, n, r.system, "every system message ran")
}

// systemCounter counts system messages; the one after a lent batch blocks
// until next is closed, so a test can see where the lending goroutine
// stopped.
type systemCounter struct {
	n    atomic.Int64
	next chan struct{}
}

func (c *systemCounter) InvokeSystemMessage(any) {
	if c.n.Add(1) == LentBatch+1 {
		<-c.next
	}
}
func (c *systemCounter) InvokeUserMessage(any)    {}
func (c *systemCounter) EscalateFailure(any, any) {}

// TestSystemMessagesCountAgainstTheLentBatch: a goroutine lent to the
// mailbox is given back after LentBatch messages whatever their kind; a
// run of system messages does not keep it.
func TestSystemMessagesCountAgainstTheLentBatch(t *testing.T) {
	inv := &systemCounter{next: make(chan struct{})}
	mb := Producer()().(*Mailbox)
	mb.RegisterHandlers(inv, actor.NewSynchronizedDispatcher(1000))
	const n = 3 * LentBatch
	mb.status.Store(running)
	for range n {
		mb.PostSystemMessage(&actor.Started{})
	}
	mb.status.Store(idle)
	lent := make(chan int64)
	go func() {
		mb.schedule() // runs a batch inline
		lent <- inv.n.Load()
	}()
	select {
	case ran := <-lent:
		assert.LessOrEqual(t, ran, int64(LentBatch+1), "the lending goroutine ran one batch")
	case <-time.After(testWait):
		close(inv.next)
		<-lent
		require.FailNow(t, "the lending goroutine was kept past its batch")
	}
	close(inv.next)
	require.Eventually(t, func() bool { return inv.n.Load() == n && mb.status.Load() == idle }, testWait, tick)
}
