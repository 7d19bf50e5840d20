// Package mailbox is a protoactor-go mailbox for idpool's actors, cheaper on
// the acquire path than protoactor's default.
//
// The default mailbox allocates a closure every time it schedules itself
// (each idle-to-busy transition, so once per acquire hop with the inline
// dispatcher) and keeps its queues in a mutex-guarded ring and an MPSC list
// that allocates a node per system message. This one caches its run function,
// keeps both queues as slices that start empty (an idle pool actor holds no
// queue memory) and otherwise behaves the same: system messages first,
// suspension honoured, a Gosched every Throughput messages.
package mailbox

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

const (
	idle int32 = iota
	running
)

// Mailbox implements actor.Mailbox.
type Mailbox struct {
	mu     sync.Mutex
	user   queue
	system queue
	// pending counts queued messages (user + system); read without the lock
	// to decide whether to loop again after going idle.
	pending    atomic.Int32
	status     atomic.Int32
	suspended  atomic.Bool
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
	m.mu.Lock()
	m.user.push(msg)
	m.mu.Unlock()
	m.pending.Add(1)
	m.schedule()
}

// PostSystemMessage enqueues a lifecycle message; they run before user ones.
func (m *Mailbox) PostSystemMessage(msg any) {
	m.mu.Lock()
	m.system.push(msg)
	m.mu.Unlock()
	m.pending.Add(1)
	m.schedule()
}

// RegisterHandlers is called once by protoactor when the actor is spawned.
func (m *Mailbox) RegisterHandlers(invoker actor.MessageInvoker, dispatcher actor.Dispatcher) {
	m.invoker, m.dispatcher = invoker, dispatcher
}

// Start is called once when the actor starts; there is nothing to do.
func (m *Mailbox) Start() {}

// UserMessageCount reports the user messages waiting.
func (m *Mailbox) UserMessageCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.user.len()
}

func (m *Mailbox) schedule() {
	if m.status.CompareAndSwap(idle, running) {
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

func (m *Mailbox) processMessages() {
	for {
		if !m.run(LentBatch) {
			// Batch spent with messages left: hand the mailbox, still
			// marked running, to a fresh runner and give the caller back.
			go m.processMessages()
			return
		}
		m.status.Store(idle)
		// A message posted after run saw the queues empty, but before the
		// status went idle, found the mailbox running and did not schedule
		// it: look again.
		if m.pending.Load() == 0 || m.suspended.Load() && m.systemLen() == 0 {
			return
		}
		if !m.status.CompareAndSwap(idle, running) {
			return
		}
	}
}

func (m *Mailbox) systemLen() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.system.len()
}

// run processes up to batch messages. It reports whether it stopped because
// there was nothing (runnable) left; false means the batch ran out first.
func (m *Mailbox) run(batch int) (empty bool) {
	var msg any
	defer func() {
		if r := recover(); r != nil {
			m.invoker.EscalateFailure(r, msg)
			empty = true // let processMessages look at the queues again
		}
	}()
	throughput := m.dispatcher.Throughput()
	for i, n := 0, 0; ; i, n = i+1, n+1 {
		if n >= batch {
			return false
		}
		if i >= throughput {
			i = 0
			runtime.Gosched()
		}
		m.mu.Lock()
		msg = m.system.pop()
		if msg == nil && !m.suspended.Load() {
			msg = m.user.pop()
			m.mu.Unlock()
			if msg == nil {
				return true
			}
			m.pending.Add(-1)
			m.invoker.InvokeUserMessage(msg)
			continue
		}
		m.mu.Unlock()
		if msg == nil {
			return true // suspended, no system message
		}
		m.pending.Add(-1)
		switch msg.(type) {
		case *actor.SuspendMailbox:
			m.suspended.Store(true)
		case *actor.ResumeMailbox:
			m.suspended.Store(false)
		default:
			m.invoker.InvokeSystemMessage(msg)
		}
	}
}
