package mailbox

import (
	"testing"
	"unsafe"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// linkedMsg carries its own Node, as an Acquire or a Release could.
type linkedMsg struct {
	from, seq int
	node      Node
}

func (m *linkedMsg) MailboxNode() *Node { return &m.node }

func TestQueueIsFIFOAcrossTakesAndHoldsNothingWhenEmpty(t *testing.T) {
	var q queue
	assert.Nil(t, q.pop())
	linked := make([]*linkedMsg, 0, 50)
	next := 0
	want := func(got any) {
		t.Helper()
		switch g := got.(type) {
		case int:
			assert.Equal(t, next, g)
		case *linkedMsg:
			assert.Equal(t, next, g.seq)
			assert.Nil(t, g.node.msg, "a taken node lets go of its message")
			assert.Nil(t, g.node.next, "a taken node lets go of the next one")
		default:
			require.Failf(t, "unexpected message", "%T", got)
		}
		next++
	}
	seq := 0
	post := func(n int) {
		for range n {
			if seq%2 == 0 {
				l := &linkedMsg{seq: seq}
				linked = append(linked, l)
				q.push(l)
			} else {
				q.push(seq)
			}
			seq++
		}
	}
	// Pushes land while the consumer holds a part already taken: order is
	// kept across takes.
	post(10)
	for range 3 {
		want(q.pop())
	}
	post(20)
	for range 17 {
		want(q.pop())
	}
	post(70)
	for m := q.pop(); m != nil; m = q.pop() {
		want(m)
	}
	assert.Equal(t, 100, next, "every message once")
	assert.Nil(t, q.in.Load(), "an empty queue holds no memory")
	assert.Nil(t, q.out)
	for _, l := range linked {
		assert.Equal(t, Node{}, l.node)
	}
}

func TestALinkedMessagePostedTwiceWhileQueuedPanicsNamingItsType(t *testing.T) {
	var q queue
	m := &linkedMsg{}
	q.push(m)
	assert.PanicsWithValue(t, "mailbox: a *mailbox.linkedMsg was posted again while still queued", func() { q.push(m) })
	assert.Same(t, m, q.pop())
	assert.Nil(t, q.pop(), "the refused post left the queue as it was")
	q.push(m) // once taken it may be posted again
	assert.Same(t, m, q.pop())
}

func TestAnIdleMailboxHoldsNoQueueMemoryAndStaysSmall(t *testing.T) {
	r := &recorder{last: map[int]int{}}
	mb := newMailbox(r, actor.NewSynchronizedDispatcher(10))
	for i := range 200 {
		mb.PostUserMessage(&linkedMsg{seq: i + 1})
		mb.PostUserMessage(i)
		mb.PostSystemMessage(&actor.Started{})
	}
	assert.Equal(t, 400, r.user)
	assert.Zero(t, r.panics.Load())
	for _, q := range []*queue{&mb.user, &mb.system} {
		assert.Nil(t, q.in.Load())
		assert.Nil(t, q.out)
	}
	// It was 128 bytes with a mutex and two slice queues.
	assert.LessOrEqual(t, unsafe.Sizeof(Mailbox{}), uintptr(112))
}
