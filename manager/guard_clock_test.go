package manager

import (
	"sync/atomic"
	"time"

	"github.com/idpool/idpool/actors"
)

// guardClock is the real clock except for the guard's bounded waits
// (OperationWait), which it holds until the test fires them, so that tests
// order "Release gave up waiting" without sleeping.
type guardClock struct {
	waits chan func() // each pending OperationWait's callback
}

func newGuardClock() *guardClock { return &guardClock{waits: make(chan func(), 8)} }

func (c *guardClock) Now() time.Time { return time.Now() }

func (c *guardClock) AfterFunc(d time.Duration, f func()) actors.Timer {
	if d != OperationWait {
		return time.AfterFunc(d, f)
	}
	t := &heldTimer{}
	c.waits <- func() {
		if t.stopped.CompareAndSwap(false, true) {
			f()
		}
	}
	return t
}

type heldTimer struct{ stopped atomic.Bool }

func (t *heldTimer) Stop() bool { return t.stopped.CompareAndSwap(false, true) }
