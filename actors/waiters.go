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
}

// waitQueue is a FIFO of waiters with O(1) removal by id. Removed waiters are
// marked done and skipped; the slice is compacted once mostly dead.
type waitQueue struct {
	items []*waiter
	head  int
	byID  map[uint64]*waiter
	live  int
	// serving counts live waiters with a connection being checked for them.
	serving int
}

func (q *waitQueue) push(w *waiter) {
	if q.byID == nil {
		q.byID = make(map[uint64]*waiter)
	}
	q.items = append(q.items, w)
	q.byID[w.id] = w
	q.live++
}

func (q *waitQueue) get(id uint64) *waiter { return q.byID[id] }

// remove takes w out of the queue; it must be live.
func (q *waitQueue) remove(w *waiter) {
	q.unbind(w)
	w.done = true
	delete(q.byID, w.id)
	q.live--
	if q.live == 0 {
		// Let an idle pool hold no queue memory: most identity pools wait
		// once (for their first dial) and then rarely again.
		q.items, q.byID, q.head = nil, nil, 0
		return
	}
	for q.head < len(q.items) && q.items[q.head].done {
		q.items[q.head] = nil
		q.head++
	}
	if q.head > 32 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items = q.items[:n]
		q.head = 0
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
