//go:build !race

// The race detector makes sync.Pool drop items at random, so allocation
// counts are only meaningful without it.

package mailbox

import (
	"runtime"
	"sync"
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

// TestManySendersWaitingForTheirMessagesAllocateNothing: senders that each
// wait for their message to run (as callers wait for their grants) keep
// the queue short, so the pooled nodes go round and none is allocated;
// a few may be when a GC empties the pool.
func TestManySendersWaitingForTheirMessagesAllocateNothing(t *testing.T) {
	mb := Producer()()
	mb.RegisterHandlers(replyInvoker{}, actor.NewSynchronizedDispatcher(300))
	const senders, each = 16, 5000
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
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	run()
	runtime.ReadMemStats(&after)
	perMsg := float64(after.Mallocs-before.Mallocs) / (senders * each)
	assert.Less(t, perMsg, 0.01, "allocations per message (%d in all)", after.Mallocs-before.Mallocs)
}
