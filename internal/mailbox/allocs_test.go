//go:build !race

// The race detector makes sync.Pool drop items at random, so allocation
// counts are only meaningful without it.

package mailbox

import (
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
