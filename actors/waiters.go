package actors

import (
	"time"

	"github.com/idpool/idpool/messages"
)

// waiter is one queued acquire.
type waiter struct {
	id      uint64
	replyTo chan messages.Reply
	since   time.Time
	// deadline, if set, is when the pool itself fails the wait.
	deadline time.Time
	// serving is the connection being checked (health or token) on this
	// waiter's behalf; while set, later waiters may be served first.
	serving *conn
	done    bool
	// carried: a mint that would have failed this waiter was retried with
	// a newer credential instead; the next such failure fails it (see
	// retryStaleMint). Beside done, it fits in padding the struct has anyway.
	carried bool
	// holder is the acquire's Holder, given to the connection it is granted.
	holder messages.DirectGrant
}

// indexAbove is the queue length past which waitQueue indexes its waiters
// by id. A cancel finds its waiter by scanning a shorter queue (cancels are
// rare, and a queue of a few dozen waiters is scanned in well under a
// microsecond); only a long queue pays for a map, so the queue of a busy
// pool of ordinary size allocates nothing when it empties and fills again.
const indexAbove = 64

// maxFreeWaiters bounds the records kept for reuse: after a burst of
// thousands of waiters, a pool that stays busy keeps no more than this.
const maxFreeWaiters = 256

// waitQueue is a FIFO of waiters. Removed waiters are marked done and
// skipped; the slice is compacted once mostly dead.
//
// Waiting allocates nothing in steady state: a record that leaves the slice
// goes to free and is reused by the next push, and an empty queue keeps its
// slice. trim gives all of it back; the pool calls it when it has nothing
// out and no one waiting, so an idle pool holds no queue memory (most
// identity pools wait once, for their first dial, and then rarely again).
type waitQueue struct {
	// live, serving, items and free come first, together (64 bytes):
	// every Step of a pool reads live, and a Step that leaves the pool
	// unused reads the two slices' capacities (see Pool.Step); head and
	// byID only matter while callers wait.
	live int
	// serving counts live waiters with a connection being checked for them.
	serving int
	items   []*waiter
	// free holds records off the queue. A record goes here only once no
	// slot of items points at it, and keeps its fields until push
	// overwrites them: the caller of remove may still read them.
	free []*waiter
	head int
	// byID indexes the live waiters while the queue is longer than
	// indexAbove, nil otherwise.
	byID map[uint64]*waiter
}

// push queues a new waiter and returns its record.
func (q *waitQueue) push(id uint64, replyTo chan messages.Reply, since, deadline time.Time, holder messages.DirectGrant) *waiter {
	var w *waiter
	if n := len(q.free); n > 0 {
		w = q.free[n-1]
		q.free[n-1] = nil
		q.free = q.free[:n-1]
	} else {
		w = new(waiter)
	}
	*w = waiter{id: id, replyTo: replyTo, since: since, deadline: deadline, holder: holder}
	if len(q.items) == cap(q.items) && q.head > 0 {
		// Full with taken slots in front: slide down instead of growing.
		q.compact()
	}
	q.items = append(q.items, w)
	q.live++
	if q.byID != nil {
		q.byID[id] = w
	} else if q.live > indexAbove {
		q.byID = make(map[uint64]*waiter, 2*indexAbove)
		q.each(func(w *waiter) bool {
			q.byID[w.id] = w
			return true
		})
	}
	return w
}

// get returns the live waiter of acquire id, or nil.
func (q *waitQueue) get(id uint64) *waiter {
	if q.byID != nil {
		return q.byID[id]
	}
	var found *waiter
	q.each(func(w *waiter) bool {
		if w.id == id {
			found = w
			return false
		}
		return true
	})
	return found
}

// remove takes w out of the queue; it must be live. Its fields stay readable
// until the next push.
func (q *waitQueue) remove(w *waiter) {
	q.unbind(w)
	w.done = true
	if q.byID != nil {
		delete(q.byID, w.id)
	}
	q.live--
	if q.live == 0 {
		for i := q.head; i < len(q.items); i++ {
			q.recycle(q.items[i])
		}
		clear(q.items)
		q.items, q.head, q.byID = q.items[:0], 0, nil
		return
	}
	for q.head < len(q.items) && q.items[q.head].done {
		q.recycle(q.items[q.head])
		q.items[q.head] = nil
		q.head++
	}
	if q.head > 32 && q.head*2 > len(q.items) {
		q.compact()
	}
}

// compact moves the slots from head on to the front, handing the records of
// done waiters among them to free.
func (q *waitQueue) compact() {
	n := 0
	for _, w := range q.items[q.head:] {
		if w.done {
			q.recycle(w)
			continue
		}
		q.items[n] = w
		n++
	}
	clear(q.items[n:])
	q.items, q.head = q.items[:n], 0
}

// recycle keeps w, which no slot of items points at any more, for reuse.
func (q *waitQueue) recycle(w *waiter) {
	w.holder = nil // a kept waiter must not keep its caller's lease
	if len(q.free) < maxFreeWaiters {
		q.free = append(q.free, w)
	}
}

// holdsMemory reports whether trim would give anything back.
func (q *waitQueue) holdsMemory() bool { return cap(q.items) > 0 || cap(q.free) > 0 }

// trim gives back the memory of an empty queue.
func (q *waitQueue) trim() {
	if q.live == 0 {
		q.items, q.head, q.byID, q.free = nil, 0, nil, nil
	}
}

// each calls f on live waiters in arrival order until f returns false.
func (q *waitQueue) each(f func(*waiter) bool) {
	for i := q.head; i < len(q.items); i++ {
		if w := q.items[i]; !w.done && !f(w) {
			return
		}
	}
}

// firstUnserved returns the oldest live waiter no connection is being
// checked for, or nil.
func (q *waitQueue) firstUnserved() *waiter {
	var found *waiter
	q.each(func(w *waiter) bool {
		if w.serving == nil {
			found = w
			return false
		}
		return true
	})
	return found
}

func (q *waitQueue) unserved() int { return q.live - q.serving }

// bind marks c as being checked on w's behalf.
func (q *waitQueue) bind(w *waiter, c *conn) {
	if w.serving == nil {
		q.serving++
	}
	w.serving = c
	c.waiter = w
}

// unbind detaches w from the connection checked for it.
func (q *waitQueue) unbind(w *waiter) {
	if w.serving != nil {
		w.serving.waiter = nil
		w.serving = nil
		q.serving--
	}
}

// lastUnserved returns the youngest live waiter no connection is being
// checked for, or nil.
func (q *waitQueue) lastUnserved() *waiter {
	for i := len(q.items) - 1; i >= q.head; i-- {
		if w := q.items[i]; !w.done && w.serving == nil {
			return w
		}
	}
	return nil
}

// firstLive returns the oldest live waiter, or nil.
func (q *waitQueue) firstLive() *waiter {
	for i := q.head; i < len(q.items); i++ {
		if !q.items[i].done {
			return q.items[i]
		}
	}
	return nil
}
