package mailbox

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type msg struct{ from, seq int }

// recorder is a MessageInvoker that checks it is never entered twice at once
// and that each sender's messages arrive in order.
type recorder struct {
	inside  atomic.Int32
	overlap atomic.Int32
	last    map[int]int
	user    int
	system  int
	order   []string
	panics  atomic.Int32
	// userDone counts user messages, readable from any goroutine.
	userDone atomic.Int64
	// check, if set, sees each sequenced message; block runs for "block".
	check func(from, seq int)
	block func()
}

func (r *recorder) enter() func() {
	if r.inside.Add(1) != 1 {
		r.overlap.Add(1)
	}
	return func() { r.inside.Add(-1) }
}

func (r *recorder) InvokeSystemMessage(m any) {
	defer r.enter()()
	r.system++
	r.order = append(r.order, "system")
}

func (r *recorder) InvokeUserMessage(m any) {
	defer r.enter()()
	if p, ok := m.(string); ok && p == "panic" {
		panic("boom")
	}
	if p, ok := m.(string); ok && p == "block" {
		r.block()
	}
	from, seq, sequenced := 0, 0, false
	switch s := m.(type) {
	case msg:
		from, seq, sequenced = s.from, s.seq, true
	case *linkedMsg:
		from, seq, sequenced = s.from, s.seq, true
	}
	if sequenced {
		if seq != r.last[from]+1 {
			panic("out of order")
		}
		if r.check != nil {
			r.check(from, seq)
		}
		r.last[from] = seq
	}
	r.user++
	r.userDone.Add(1)
	r.order = append(r.order, "user")
}

func (r *recorder) EscalateFailure(reason any, m any) { r.panics.Add(1) }

func newMailbox(r *recorder, d actor.Dispatcher) *Mailbox {
	mb := Producer()().(*Mailbox)
	mb.RegisterHandlers(r, d)
	mb.Start()
	return mb
}

func TestConcurrentSendersAreSerializedAndKeepTheirOrder(t *testing.T) {
	for _, d := range []actor.Dispatcher{actor.NewSynchronizedDispatcher(50), actor.NewDefaultDispatcher(50)} {
		r := &recorder{last: map[int]int{}}
		mb := newMailbox(r, d)
		const senders, each = 16, 2000
		var wg sync.WaitGroup
		for s := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 1; i <= each; i++ {
					mb.PostUserMessage(msg{s, i})
					if i%500 == 0 {
						mb.PostSystemMessage(&actor.Started{})
					}
				}
			}()
		}
		wg.Wait()
		require.Eventually(t, func() bool { return mb.UserMessageCount() == 0 && mb.status.Load() == idle }, testWait, tick)
		assert.Equal(t, senders*each, r.user, "every message delivered once")
		assert.Equal(t, senders*4, r.system)
		assert.Zero(t, r.overlap.Load(), "never two messages processed at once")
		assert.Zero(t, r.panics.Load())
		assert.Zero(t, mb.UserMessageCount())
	}
}

func TestSystemMessagesGoFirstAndSuspensionHoldsUserMessages(t *testing.T) {
	r := &recorder{last: map[int]int{}}
	mb := newMailbox(r, actor.NewSynchronizedDispatcher(10))
	mb.status.Store(running) // hold processing while we queue
	mb.PostUserMessage("a")
	mb.PostSystemMessage(&actor.Started{})
	mb.PostSystemMessage(&actor.SuspendMailbox{})
	mb.status.Store(idle)
	mb.schedule()
	assert.Equal(t, []string{"system"}, r.order, "system first; then suspended")
	assert.Equal(t, 1, mb.UserMessageCount())
	mb.PostUserMessage("b")
	assert.Equal(t, 2, mb.UserMessageCount(), "still suspended")
	mb.PostSystemMessage(&actor.ResumeMailbox{})
	assert.Equal(t, []string{"system", "user", "user"}, r.order)
}

func TestAPanicIsEscalatedAndTheMailboxGoesOn(t *testing.T) {
	r := &recorder{last: map[int]int{}}
	mb := newMailbox(r, actor.NewSynchronizedDispatcher(10))
	mb.PostUserMessage("panic")
	assert.EqualValues(t, 1, r.panics.Load())
	r.inside.Store(0)
	mb.PostUserMessage("after")
	assert.Equal(t, 1, r.user)
}

const (
	testWait = 10 * time.Second
	tick     = time.Millisecond
)

// countingInvoker counts user messages; the first one blocks until hold is
// closed, so that a test can queue messages behind it, and the one after a
// batch blocks until next is closed, so the test can see where the lending
// goroutine stopped.
type countingInvoker struct {
	n       atomic.Int64
	started chan struct{}
	hold    chan struct{}
	next    chan struct{}
}

func (c *countingInvoker) InvokeSystemMessage(any) {}
func (c *countingInvoker) InvokeUserMessage(any) {
	switch c.n.Add(1) {
	case 1:
		close(c.started)
		<-c.hold
	case LentBatch + 1:
		<-c.next
	}
}
func (c *countingInvoker) EscalateFailure(any, any) {}

// TestALentGoroutineIsGivenBackAfterABoundedBatch: the sender whose message
// found the mailbox idle runs it inline, but under load it stops after
// LentBatch messages and another goroutine runs the rest.
func TestALentGoroutineIsGivenBackAfterABoundedBatch(t *testing.T) {
	inv := &countingInvoker{started: make(chan struct{}), hold: make(chan struct{}), next: make(chan struct{})}
	defer func() {
		select {
		case <-inv.next:
		default:
			close(inv.next)
		}
	}()
	mb := Producer()().(*Mailbox)
	mb.RegisterHandlers(inv, actor.NewSynchronizedDispatcher(300))
	const queued = 10 * LentBatch
	lent := make(chan int64)
	go func() {
		mb.PostUserMessage("first") // runs inline on this goroutine
		lent <- inv.n.Load()
	}()
	<-inv.started
	for range queued {
		mb.PostUserMessage("queued") // the mailbox is running: these queue
	}
	close(inv.hold)
	var ran int64
	select {
	case ran = <-lent:
	case <-time.After(testWait):
		require.Fail(t, "the lending goroutine was kept past its batch")
	}
	assert.LessOrEqual(t, ran, int64(LentBatch+1), "the lending goroutine ran one batch")
	close(inv.next)
	require.Eventually(t, func() bool { return inv.n.Load() == queued+1 && mb.status.Load() == idle }, testWait, tick,
		"the rest ran on another goroutine")
}
