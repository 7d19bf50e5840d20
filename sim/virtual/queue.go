package virtual

type evKind uint8

const (
	evArrive         evKind = iota // a worker (or the poisson source) acquires
	evDeliverAcquire               // the acquire reaches its pool
	evDeadline                     // the acquire's deadline: the caller sends Cancel
	evDeliverCancel                // the Cancel reaches the pool
	evOpEnd                        // the worker is done with its lease
	evDeliverRelease               // the Release reaches the pool
	evDialDone
	evMintDone
	evValidateDone
	evCloseDone
	evTick
	evRetireRequest  // a pool's retirement request reaches the manager
	evRetireApproved // the manager's approval reaches the pool
	evKill
	evOutageStart
	evOutageEnd
	evRotate
	evSample
	evStop
	evBugCancel
	evPermitRequest // a pool's permit request reaches the manager
	evPermitReturn  // a returned permit reaches the manager
	evPermitGrant   // the manager's grant reaches the pool
	evPermitDenied
	evStealIdle       // the manager asks a pool to give up a connection
	evStealRefused    // the pool's refusal reaches the manager
	evLostCheck       // a pool-enforced deadline has passed: was it answered?
	evFillRefused     // the manager's refusal of a MinSize fill reaches the pool
	evRestEnd         // the rest period after the workload ends (churn check)
	evManagerAcquire  // the acquire reaches the manager
	evRouteCheck      // the caller reads whether the route it counted itself in is closed
	evStart           // a pool's Start, delayed by the early-route bug
	evPoolDrained     // a pool's EffDrained reaches the manager
	evWithdrawPermit  // a pool's withdrawal of a permit request reaches the manager
	evPermitWithdrawn // the manager's answer to it reaches the pool
	evStealCancelled  // the manager calls off a steal
)

// source reports whether k is a source of the workload or its faults: an
// event that schedules its own next one, and that does nothing once the run
// stops (arrive, kill, outageStart and rotate all return at once). Its next
// event may fall far past the end (a rare source: a poisson arrival at one
// per thirty years), which the loop must not take for work still running.
// (evSample is not one: a sample taken while stopping is part of the
// report, and the next one is never more than Duration/200 away.)
func (k evKind) source() bool {
	switch k {
	case evArrive, evKill, evOutageStart, evRotate:
		return true
	}
	return false
}

// event is one thing that happens at a virtual instant. Events at the same
// instant run in the order they were scheduled (seq), so a run is fully
// determined by its seed.
type event struct {
	at   int64
	seq  uint64
	kind evKind
	n    uint64
	pool *vpool
	req  *request
	conn *bconn
	dial *dialOp
	w    *worker
}

// eventQueue is a binary min-heap on (at, seq).
type eventQueue struct {
	items []event
	seq   uint64
}

func (q *eventQueue) len() int { return len(q.items) }

func less(a, b *event) bool { return a.at < b.at || a.at == b.at && a.seq < b.seq }

func (q *eventQueue) push(e event) {
	q.seq++
	e.seq = q.seq
	q.items = append(q.items, e)
	i := len(q.items) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !less(&q.items[i], &q.items[parent]) {
			break
		}
		q.items[i], q.items[parent] = q.items[parent], q.items[i]
		i = parent
	}
}

func (q *eventQueue) pop() event {
	top := q.items[0]
	last := len(q.items) - 1
	q.items[0] = q.items[last]
	q.items[last] = event{}
	q.items = q.items[:last]
	i := 0
	for {
		l, r, small := 2*i+1, 2*i+2, i
		if l < last && less(&q.items[l], &q.items[small]) {
			small = l
		}
		if r < last && less(&q.items[r], &q.items[small]) {
			small = r
		}
		if small == i {
			break
		}
		q.items[i], q.items[small] = q.items[small], q.items[i]
		i = small
	}
	return top
}
