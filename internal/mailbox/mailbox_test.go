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
	if s, ok := m.(msg); ok {
		if s.seq != r.last[s.from]+1 {
			panic("out of order")
		}
		r.last[s.from] = s.seq
	}
	r.user++
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
		require.Eventually(t, func() bool { return mb.pending.Load() == 0 && mb.status.Load() == idle }, testWait, tick)
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

func TestQueueGivesBackLargeBuffers(t *testing.T) {
	var q queue
	for i := range 100 {
		q.push(i)
	}
	for range 100 {
		require.NotNil(t, q.pop())
	}
	assert.Nil(t, q.pop())
	assert.Nil(t, q.items, "a drained large buffer is released")
}

const (
	testWait = 10 * time.Second
	tick     = time.Millisecond
)
