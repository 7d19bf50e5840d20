package memdb

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrInjected is the error of an injected fault when the test gave none.
var ErrInjected = errors.New("memdb: injected fault")

// dialFaults are the dial switches; DB.mu guards them.
type dialFaults struct {
	failN    int // >0: fail that many more dials; <0: fail all; 0: none
	failErr  error
	panics   int
	latency  time.Duration
	gate     chan struct{} // non-nil while BlockDials is in force
	gateRefs int
}

// takeFailure consumes one scheduled dial failure, if any.
func (f *dialFaults) takeFailure() error {
	if f.failN == 0 {
		return nil
	}
	if f.failN > 0 {
		f.failN--
	}
	return f.failErr
}

// FailDials makes the next n dials fail with err (ErrInjected if err is nil).
// n < 0 fails every dial until FailDials(0, nil) resets it.
func (db *DB) FailDials(n int, err error) {
	if err == nil {
		err = ErrInjected
	}
	db.mu.Lock()
	db.faults.failN, db.faults.failErr = n, err
	db.mu.Unlock()
}

// SetDialLatency makes each later dial wait d first (or until its ctx ends,
// when it returns ctx.Err()). Zero removes the latency.
func (db *DB) SetDialLatency(d time.Duration) {
	db.mu.Lock()
	db.faults.latency = d
	db.mu.Unlock()
}

// PanicDials makes the next n dials panic, as a buggy driver might; the pool
// must recover. n <= 0 cancels any panics still scheduled.
func (db *DB) PanicDials(n int) {
	db.mu.Lock()
	db.faults.panics = max(n, 0)
	db.mu.Unlock()
}

// BlockDials holds every dial that starts from now on until release is
// called (or the dial's ctx ends), so a test can have several dials in flight
// at once. Overlapping blocks stack: dials proceed once every release has
// been called. Calling a release more than once is harmless.
func (db *DB) BlockDials() (release func()) {
	db.mu.Lock()
	if db.faults.gate == nil {
		db.faults.gate = make(chan struct{})
	}
	db.faults.gateRefs++
	db.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			db.mu.Lock()
			db.faults.gateRefs--
			if db.faults.gateRefs == 0 {
				close(db.faults.gate)
				db.faults.gate = nil
			}
			db.mu.Unlock()
			db.changes.notify()
		})
	}
}

// SetPingError makes Ping fail with err on live conns; nil makes it healthy
// again. IsValid, a local check, is not affected.
func (db *DB) SetPingError(err error) { storeErr(&db.pingErr, err) }

// SetResetError makes ResetSession fail with err after it has rolled back;
// nil makes it succeed again.
func (db *DB) SetResetError(err error) { storeErr(&db.resetErr, err) }

// FailQueries makes the next n statements (on any conn) fail with err
// (ErrInjected if err is nil), leaving the conn usable unless err is
// driver.ErrBadConn. n < 0 fails every statement until FailQueries(0, nil).
func (db *DB) FailQueries(n int, err error) {
	if err == nil {
		err = ErrInjected
	}
	db.queryFail.set(n, err)
}

// Kill makes conn id dead, as if the server ended its session: IsValid
// reports false and Ping and every other op return driver.ErrBadConn; an op
// blocked in SLEEP returns at once. Close still succeeds. Unknown or closed
// ids are ignored.
func (db *DB) Kill(id int64) {
	if c := db.connByID(id); c != nil && c.closes.Load() == 0 {
		c.markDead()
	}
}

// KillAll kills every conn that is open now.
func (db *DB) KillAll() {
	db.mu.Lock()
	live := make([]*Conn, 0, len(db.conns))
	for _, c := range db.conns {
		if c.closes.Load() == 0 {
			live = append(live, c)
		}
	}
	db.mu.Unlock()
	for _, c := range live {
		c.markDead()
	}
}

// queryFaults schedules statement failures without a lock, because every
// statement checks it.
type queryFaults struct {
	n   atomic.Int64
	err atomic.Pointer[errBox]
}

func (q *queryFaults) set(n int, err error) {
	storeErr(&q.err, err)
	q.n.Store(int64(n))
}

// take consumes one scheduled failure, if any.
func (q *queryFaults) take() error {
	for {
		n := q.n.Load()
		switch {
		case n == 0:
			return nil
		case n < 0:
			return loadErr(&q.err)
		case q.n.CompareAndSwap(n, n-1):
			return loadErr(&q.err)
		}
	}
}
