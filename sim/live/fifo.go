package live

import (
	"sync"
	"time"
)

// fifoChecker approximates fifo_violations from outside the pool. Live
// mode cannot see which waiter a health or token check is serving, nor the
// exact order two nearly simultaneous acquires reached the pool, so it
// counts only clear cases: acquire B of a login is granted while an acquire
// A of the same login that started more than fifoMargin earlier still
// waits, and A is still waiting fifoGrace after B's grant. fifoMargin
// covers a check in flight for A (a token mint or a ping) and scheduling
// noise; fifoGrace covers A's goroutine being slow to notice its own grant.
type fifoChecker struct {
	margin, grace time.Duration

	mu     sync.Mutex
	logins map[string]map[uint64]*fifoWait
	found  uint64
}

type fifoWait struct {
	start time.Time
	// passed is when a later acquire was granted ahead of this one.
	passed time.Time
}

func newFIFOChecker(margin, grace time.Duration) *fifoChecker {
	return &fifoChecker{margin: margin, grace: grace, logins: map[string]map[uint64]*fifoWait{}}
}

func (f *fifoChecker) waiting(login string, id uint64, start time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.logins[login]
	if m == nil {
		m = map[uint64]*fifoWait{}
		f.logins[login] = m
	}
	m[id] = &fifoWait{start: start}
}

// done: acquire id ended at now; granted says whether it got a connection.
func (f *fifoChecker) done(login string, id uint64, now time.Time, granted bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.logins[login]
	w := m[id]
	delete(m, id)
	if w == nil {
		return
	}
	if !w.passed.IsZero() && now.Sub(w.passed) > f.grace {
		f.found++
	}
	if !granted {
		return
	}
	for _, other := range m {
		if other.passed.IsZero() && w.start.Sub(other.start) > f.margin {
			other.passed = now
		}
	}
}

func (f *fifoChecker) violations() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.found
}
