package live

import (
	"sync"
	"time"

	"github.com/idpool/idpool/sim/report"
)

// fifoChecker looks for FIFO overtakes from outside the pool. It reports
// suspects ("fifo_overtake"), never violations: it decides by wall-clock
// margins, and a goroutine the machine is slow to run looks just like a
// waiter overtaken (virtual mode checks FIFO exactly). Live mode cannot see which waiter a health or token check is serving, nor the
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
	// suspects holds the overtakes found, with descriptions.
	suspects suspects
}

type fifoWait struct {
	start time.Time
	// passed is when a later acquire, by, was granted ahead of this one.
	passed time.Time
	by     uint64
	// byStart is when by started.
	byStart time.Time
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
		f.suspects.add("fifo_overtake", "acquire %d of %s, started %s before acquire %d, was still waiting %s after that one was granted",
			id, login, w.byStart.Sub(w.start).Round(time.Millisecond), w.by, now.Sub(w.passed).Round(time.Millisecond))
	}
	if !granted {
		return
	}
	for _, other := range m {
		if other.passed.IsZero() && w.start.Sub(other.start) > f.margin {
			other.passed, other.by, other.byStart = now, id, w.start
		}
	}
}

// overtakes counts the suspects found so far.
func (f *fifoChecker) overtakes() uint64 {
	var res report.Result
	f.suspects.into(&res)
	return res.Suspects["fifo_overtake"]
}
