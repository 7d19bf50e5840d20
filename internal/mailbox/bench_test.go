package mailbox

import (
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
)

// nopInvoker runs nothing: the benchmarks measure the mailbox alone.
type nopInvoker struct{}

func (nopInvoker) InvokeSystemMessage(any)  {}
func (nopInvoker) InvokeUserMessage(any)    {}
func (nopInvoker) EscalateFailure(any, any) {}

// benchMsg stands for a pool actor's hot messages (an Acquire, a Release):
// a pointer to a struct the sender owns.
type benchMsg struct{ _ int }

// BenchmarkPostInline is the hot path's shape at one goroutine: each post
// finds the mailbox idle and runs its message on the sender's goroutine.
func BenchmarkPostInline(b *testing.B) {
	mb := Producer()()
	mb.RegisterHandlers(nopInvoker{}, actor.NewSynchronizedDispatcher(300))
	m := &benchMsg{}
	b.ReportAllocs()
	for b.Loop() {
		mb.PostUserMessage(m)
	}
}

// BenchmarkPostParallel is many senders on one mailbox, which runs on
// whichever sender found it idle (the mailbox scenario's shape).
func BenchmarkPostParallel(b *testing.B) {
	mb := Producer()()
	mb.RegisterHandlers(nopInvoker{}, actor.NewSynchronizedDispatcher(300))
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		m := &benchMsg{}
		for pb.Next() {
			mb.PostUserMessage(m)
		}
	})
	b.StopTimer()
	// A runner handed the rest of a batch may still be at work: let it
	// finish, for goleak.
	for mb.(*Mailbox).status.Load() != idle {
		runtime.Gosched()
	}
}

// linkedBenchMsg carries its own Node, as a pool actor's hot messages
// would.
type linkedBenchMsg struct {
	_    int
	node Node
}

func (m *linkedBenchMsg) MailboxNode() *Node { return &m.node }

// BenchmarkPostInlineLinked is BenchmarkPostInline with a Linked message.
func BenchmarkPostInlineLinked(b *testing.B) {
	mb := Producer()()
	mb.RegisterHandlers(nopInvoker{}, actor.NewSynchronizedDispatcher(300))
	m := &linkedBenchMsg{}
	b.ReportAllocs()
	for b.Loop() {
		mb.PostUserMessage(m)
	}
}

// replyMsg is a message whose sender waits for the actor to have run it,
// as a caller waits for an Acquire's grant.
type replyMsg struct{ done atomic.Bool }

// replyInvoker marks each replyMsg run.
type replyInvoker struct{ nopInvoker }

func (replyInvoker) InvokeUserMessage(m any) { m.(*replyMsg).done.Store(true) }

// BenchmarkPostParallelClosedLoop is many senders on one mailbox, each
// waiting for its message to have run before it posts the next: the queue
// holds at most one message per sender, as with callers waiting for their
// grants (BenchmarkPostParallel floods it instead).
func BenchmarkPostParallelClosedLoop(b *testing.B) {
	mb := Producer()()
	mb.RegisterHandlers(replyInvoker{}, actor.NewSynchronizedDispatcher(300))
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		m := &replyMsg{}
		for pb.Next() {
			m.done.Store(false)
			mb.PostUserMessage(m)
			for !m.done.Load() {
				runtime.Gosched()
			}
		}
	})
	b.StopTimer()
	for mb.(*Mailbox).status.Load() != idle {
		runtime.Gosched()
	}
}
