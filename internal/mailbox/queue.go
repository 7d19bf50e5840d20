package mailbox

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Node links a message into a mailbox queue. A message that carries one
// (see Linked) is queued without allocating; any other message borrows a
// Node from a pool for the time it is queued.
//
// The zero Node is ready to use. Its fields belong to the mailbox.
type Node struct {
	next *Node
	msg  any
	// pooled marks a borrowed Node, which goes back to the pool when its
	// message is taken.
	pooled bool
}

// Linked is implemented by a message that carries its own Node, so that
// posting it allocates nothing and takes nothing from the pool. The message
// must be a pointer, and must not be posted again (to any mailbox) before
// the actor it was posted to has received it: one Node can be in one queue
// once. Posting it twice panics (when the second post can see the first).
type Linked interface {
	MailboxNode() *Node
}

// nodes lends a Node to each message that is not Linked. A node goes back
// as soon as its message is taken, so in steady state posting allocates
// nothing, and an idle mailbox holds none.
var nodes = sync.Pool{New: func() any { return &Node{pooled: true} }}

// queue is a lock-free multi-producer, single-consumer FIFO of messages.
//
// Producers push onto a stack (in) with a compare-and-swap; the consumer
// takes the whole stack at once with a swap, reverses it into its own list
// (out) and pops from that. Order is the order of the pushes, so each
// producer's messages stay in the order it posted them. A push can never see
// a half-linked list (a node's next is set before the swap publishes it), so
// the consumer never waits for a producer, and a node the consumer has taken
// is referenced by no one else. An empty queue holds no memory.
type queue struct {
	in atomic.Pointer[Node]
	// out belongs to the consumer: the taken messages, oldest first.
	out *Node
}

// push adds msg; any goroutine may call it.
func (q *queue) push(msg any) {
	var n *Node
	if l, ok := msg.(Linked); ok {
		n = l.MailboxNode()
		if n.msg != nil {
			panic(fmt.Sprintf("mailbox: a %T was posted again while still queued", msg))
		}
	} else {
		n = nodes.Get().(*Node)
	}
	n.msg = msg
	for {
		// A node pushed, taken and pushed again between this load and the
		// swap (ABA) is harmless: the new node links to whatever in holds.
		old := q.in.Load()
		n.next = old
		if q.in.CompareAndSwap(old, n) {
			return
		}
	}
}

// waiting reports whether producers have pushed messages the consumer has
// not taken yet. Any goroutine may call it (it reads no consumer state).
func (q *queue) waiting() bool { return q.in.Load() != nil }

// pop returns the oldest message, or nil. Only the consumer may call it.
func (q *queue) pop() any {
	n := q.out
	if n == nil {
		if q.in.Load() == nil {
			return nil
		}
		n = reverse(q.in.Swap(nil))
	}
	q.out = n.next
	msg := n.msg
	// Clear the node: a Linked message may be posted again once taken,
	// and it must not keep the next message alive.
	n.next, n.msg = nil, nil
	if n.pooled {
		nodes.Put(n)
	}
	return msg
}

// reverse turns a stack taken from in (newest first) into a FIFO list.
func reverse(n *Node) *Node {
	var prev *Node
	for n != nil {
		n.next, prev, n = prev, n, n.next
	}
	return prev
}
