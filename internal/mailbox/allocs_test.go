//go:build !race

// The race detector makes sync.Pool drop items at random, so allocation
// counts are only meaningful without it.

package mailbox

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
)

// TestPostingAndRunningAllocateNothingInSteadyState: a Linked message uses
// its own node, any other borrows one from the pool and gives it back when
// taken; system messages too; scheduling uses the cached run func.
func TestPostingAndRunningAllocateNothingInSteadyState(t *testing.T) {
	mb := Producer()()
	mb.RegisterHandlers(nopInvoker{}, actor.NewSynchronizedDispatcher(300))
	linked, plain, sys := &linkedBenchMsg{}, &benchMsg{}, &actor.Started{}
	assert.Zero(t, testing.AllocsPerRun(1000, func() { mb.PostUserMessage(linked) }), "Linked user message")
	assert.Zero(t, testing.AllocsPerRun(1000, func() { mb.PostUserMessage(plain) }), "pointer user message")
	assert.Zero(t, testing.AllocsPerRun(1000, func() { mb.PostSystemMessage(sys) }), "system message")
	// Queued behind a running batch and taken in one swap.
	batch := make([]linkedBenchMsg, 32)
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		mb := mb.(*Mailbox)
		mb.status.Store(running)
		for i := range batch {
			mb.PostUserMessage(plain)
			mb.PostUserMessage(&batch[i])
		}
		mb.status.Store(idle)
		mb.schedule()
	}), "a batch of queued messages")
}

// yieldingInvoker lets other goroutines run in the middle of each message,
// so that their posts find the mailbox busy and queue.
type yieldingInvoker struct{ nopInvoker }

func (yieldingInvoker) InvokeUserMessage(m any) {
	runtime.Gosched()
	m.(*replyMsg).done.Store(true)
}

// TestManySendersWaitingForTheirMessagesAllocateNothing: senders that each
// wait for their message to run (as callers wait for their grants) keep
// the queue short, so the pooled nodes go round and none is allocated
// (a few may be when a GC empties the pool), and the runner that takes over
// a spent batch costs no allocation either.
func TestManySendersWaitingForTheirMessagesAllocateNothing(t *testing.T) {
	mb := Producer()()
	mb.RegisterHandlers(yieldingInvoker{}, actor.NewSynchronizedDispatcher(300))
	const senders, each = 16, 5000
	// With the inline dispatcher a post that starts the runner returns
	// with its message run; one still pending has queued behind another.
	var queued atomic.Int64
	run := func() {
		var wg sync.WaitGroup
		for range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m := &replyMsg{}
				for range each {
					m.done.Store(false)
					mb.PostUserMessage(m)
					if !m.done.Load() {
						queued.Add(1)
					}
					for !m.done.Load() {
						runtime.Gosched()
					}
				}
			}()
		}
		wg.Wait()
		for mb.(*Mailbox).status.Load() != idle {
			runtime.Gosched()
		}
	}
	run() // warm: goroutines, pooled nodes
	queued.Store(0)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	run()
	runtime.ReadMemStats(&after)
	perMsg := float64(after.Mallocs-before.Mallocs) / (senders * each)
	// The senders' goroutines and messages account for about 2 per sender;
	// a hand-off to a fresh runner every LentBatch messages must not
	// allocate (1 per 64 messages would fail this).
	assert.Less(t, perMsg, 0.002, "allocations per message (%d in all)", after.Mallocs-before.Mallocs)
	assert.Greater(t, queued.Load(), int64(senders*each/10), "the queue was used, not only the idle shortcut")
}
