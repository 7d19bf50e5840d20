// Package mailbox is a protoactor-go mailbox for idpool's actors, cheaper on
// the acquire path than protoactor's default.
//
// The default mailbox allocates a closure every time it schedules itself
// (each idle-to-busy transition, so once per acquire hop with the inline
// dispatcher) and keeps its queues in a mutex-guarded ring and an MPSC list
// that allocates a node per system message. This one caches its run function
// and holds no lock: a sender that finds it idle and empty hands its message
// straight to the runner it starts; otherwise a post is a compare-and-swap
// onto a lock-free queue (see queue) that the runner takes whole, with a node
// the message carries (Linked) or one borrowed from a pool, so posting
// allocates nothing. An idle mailbox holds no queue memory. It otherwise
// behaves the same: system messages first, suspension honoured, a Gosched
// every Throughput messages.
package mailbox

import (
	"runtime"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

const (
	idle int32 = iota
	running
)

// Mailbox implements actor.Mailbox.
type Mailbox struct {
	user   queue
	system queue
	// posted and taken count user messages, for UserMessageCount only:
	// posted by the senders, taken by the runner (on a word of its own).
	posted atomic.Uint32
	taken  atomic.Uint32
	status atomic.Int32
	// suspended is written by the runner only; it is atomic because the
	// runner that goes idle reads it after another may have started.
	suspended atomic.Bool
	// first is the message handed to the runner its sender started; it
	// belongs to the runner.
	first      any
	invoker    actor.MessageInvoker
	dispatcher actor.Dispatcher
	process    func()
}

// Producer returns a producer for actor.WithMailbox.
func Producer() actor.MailboxProducer {
	return func() actor.Mailbox {
		m := &Mailbox{}
		m.process = m.processMessages
		return m
	}
}

// PostUserMessage enqueues an ordinary message and schedules the mailbox.
func (m *Mailbox) PostUserMessage(msg any) {
	// Counted first, so that UserMessageCount never sees a message taken
	// that was not yet posted.
	m.posted.Add(1)
	// The uncontended case: nothing queued and no runner. The sender that
	// starts the runner hands it the message directly, and neither pushes
	// nor pops it. Its own earlier messages are all done (an idle mailbox
	// that is not suspended has taken everything it was posted, bar a
	// push its last look is about to find, which waiting sees); a message
	// pushed by another sender after this look is concurrent with this
	// one, so either may go first.
	if m.status.Load() == idle && !m.suspended.Load() && !m.user.waiting() && !m.system.waiting() &&
		m.status.CompareAndSwap(idle, running) {
		m.first = msg
		m.dispatcher.Schedule(m.process)
		return
	}
	m.user.push(msg)
	m.schedule()
}

// PostSystemMessage enqueues a lifecycle message; they run before user ones.
func (m *Mailbox) PostSystemMessage(msg any) {
	m.system.push(msg)
	m.schedule()
}

// RegisterHandlers is called once by protoactor when the actor is spawned.
func (m *Mailbox) RegisterHandlers(invoker actor.MessageInvoker, dispatcher actor.Dispatcher) {
	m.invoker, m.dispatcher = invoker, dispatcher
}

// Start is called once when the actor starts; there is nothing to do.
func (m *Mailbox) Start() {}

// UserMessageCount reports the user messages posted and not yet taken by
// the actor.
func (m *Mailbox) UserMessageCount() int {
	taken := m.taken.Load() // first: posted only grows past it
	return int(m.posted.Load() - taken)
}

// schedule starts the runner unless one is running. The push before it and
// the runner's Store(idle) before its last look at the queues are both
// sequentially consistent, so either this sees idle or that look sees the
// message. The Load spares a busy mailbox a failing compare-and-swap.
func (m *Mailbox) schedule() {
	if m.status.Load() == idle && m.status.CompareAndSwap(idle, running) {
		m.dispatcher.Schedule(m.process)
	}
}

// LentBatch bounds how many messages a goroutine that found the mailbox
// idle runs before it hands the rest over. With an inline dispatcher that
// goroutine is a caller's (an Acquire's or a Release's): without a bound,
// under load it would run other callers' steps for as long as they keep
// coming. Past the batch the remaining messages go to a goroutine of their
// own, which runs them the same way (system messages first, in order).
const LentBatch = 64

// outcome is why run stopped.
type outcome int

const (
	drained  outcome = iota // nothing runnable left
	spent                   // the batch ran out first
	panicked                // a message panicked; it was escalated
)

func (m *Mailbox) processMessages() {
	budget := LentBatch
	for {
		switch m.run(&budget) {
		case spent:
			// Batch spent with messages left: hand the mailbox, still
			// marked running, to a fresh runner and give the caller back.
			go m.process() // the cached func: "go m.processMessages()" allocates a closure
			return
		case panicked:
			continue // the rest of the batch may be queued behind it
		}
		if h := testHookBeforeIdle.Load(); h != nil {
			(*h)(m)
		}
		m.status.Store(idle)
		// A message posted after run saw the queues empty, but before the
		// status went idle, found the mailbox running and did not schedule
		// it: look again. Only the shared halves of the queues are read
		// (another runner may own the rest by now): run returns drained
		// with the taken halves empty, bar user messages held by a
		// suspension.
		if !m.system.waiting() && (m.suspended.Load() || !m.user.waiting()) {
			return
		}
		if !m.status.CompareAndSwap(idle, running) {
			return
		}
	}
}

// testHookBeforeIdle, set only by tests, runs where a runner has found
// nothing left and has not yet marked the mailbox idle: the window a post
// must not be lost in.
var testHookBeforeIdle atomic.Pointer[func(*Mailbox)]

// runnable reports whether run would find a message. Only the runner may
// call it.
func (m *Mailbox) runnable() bool {
	return m.system.out != nil || m.system.waiting() ||
		!m.suspended.Load() && (m.user.out != nil || m.user.waiting())
}

// run processes messages while *budget lasts, counting it down, and says
// why it stopped.
func (m *Mailbox) run(budget *int) (out outcome) {
	var msg any
	defer func() {
		if r := recover(); r != nil {
			m.invoker.EscalateFailure(r, msg)
			out = panicked
		}
	}()
	if msg = m.first; msg != nil {
		m.first = nil
		*budget--
		m.taken.Add(1)
		m.invoker.InvokeUserMessage(msg)
	}
	throughput := m.dispatcher.Throughput()
	for i := 0; ; i++ {
		if *budget <= 0 {
			if m.runnable() {
				return spent
			}
			return drained
		}
		if i >= throughput {
			i = 0
			runtime.Gosched()
		}
		if msg = m.system.pop(); msg != nil {
			*budget--
			switch msg.(type) {
			case *actor.SuspendMailbox:
				m.suspended.Store(true)
			case *actor.ResumeMailbox:
				m.suspended.Store(false)
			default:
				m.invoker.InvokeSystemMessage(msg)
			}
			continue
		}
		if m.suspended.Load() {
			return drained
		}
		if msg = m.user.pop(); msg == nil {
			return drained
		}
		*budget--
		m.taken.Add(1)
		m.invoker.InvokeUserMessage(msg)
	}
}
