package mailbox

import (
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
)

// TestAMessageHandedStraightToItsRunnerRunsOnce: the message a sender hands
// to the runner it starts is the runner's once: a later runner, started by
// a post that queued, runs only the queued message.
func TestAMessageHandedStraightToItsRunnerRunsOnce(t *testing.T) {
	mb := Producer()().(*Mailbox)
	mb.RegisterHandlers(signalInvoker{}, actor.NewSynchronizedDispatcher(10))
	var ran []int
	mb.PostUserMessage(func() { ran = append(ran, 1) }) // handed straight to its runner
	mb.status.Store(running)                            // the next one queues
	mb.PostUserMessage(func() { ran = append(ran, 2) })
	mb.status.Store(idle)
	mb.schedule()
	assert.Equal(t, []int{1, 2}, ran)
	assert.Zero(t, mb.UserMessageCount())
}
