package mailbox

// queue is a FIFO of messages on a slice. It starts with no memory and, when
// it runs empty, keeps at most a small buffer, so an idle actor holds little.
type queue struct {
	items []any
	head  int
}

func (q *queue) push(m any) { q.items = append(q.items, m) }

func (q *queue) len() int { return len(q.items) - q.head }

// pop returns the oldest message, or nil.
func (q *queue) pop() any {
	if q.head == len(q.items) {
		return nil
	}
	m := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	if q.head == len(q.items) {
		// Keep a small buffer for a busy actor; drop a big one.
		if cap(q.items) > 8 {
			q.items = nil
		} else {
			q.items = q.items[:0]
		}
		q.head = 0
	}
	return m
}
