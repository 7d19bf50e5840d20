package manager

import (
	"log/slog"
	"time"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/internal/panicdesc"
)

// safeClock runs a Config.Clock, user code, so that its panics lose
// nothing. The pool and manager actors read the clock as they take each
// message: a Now that panicked there cut the message's step short, and a
// Release, a dial's result or a timer's tick so lost held a slot, or a
// pool, for good. A Now that panics is answered with the system clock's
// time, an AfterFunc that panics with the system clock's timer, and a
// Timer.Stop that panics as a Stop that stopped nothing; each
// panic is logged, described and never printed (the value may hold a
// secret). The system clock itself is not wrapped: it does not panic.
type safeClock struct {
	next   Clock
	logger *slog.Logger
}

// withSafeClock wraps cfg's Clock unless it is the system clock.
func withSafeClock(cfg Config) Clock {
	if _, system := cfg.Clock.(actors.SystemClock); system {
		return cfg.Clock
	}
	return safeClock{next: cfg.Clock, logger: cfg.Logger}
}

// Now returns the wrapped clock's time, or the system clock's if it panics.
func (c safeClock) Now() (now time.Time) {
	defer func() {
		if r := recover(); r != nil {
			c.panicked("Now", r)
			now = time.Now()
		}
	}()
	return c.next.Now()
}

// AfterFunc sets the wrapped clock's timer, or the system clock's if it
// panics. The wrapped clock's Timer is user code too, stopped inside the
// pool actor's Receive as it sets its next timer: its Stop is wrapped as
// well.
func (c safeClock) AfterFunc(d time.Duration, f func()) (t actors.Timer) {
	defer func() {
		if r := recover(); r != nil {
			c.panicked("AfterFunc", r)
			t = time.AfterFunc(d, f)
		}
	}()
	return safeTimer{next: c.next.AfterFunc(d, f), clock: c}
}

// safeTimer is a wrapped clock's Timer.
type safeTimer struct {
	next  actors.Timer
	clock safeClock
}

// Stop stops the wrapped timer. If that panics it reports false, as for a
// call it did not prevent: no caller waits on it (the pool's timer sends a
// Tick, idempotent; a grace's timer finds its watch stopped).
func (t safeTimer) Stop() (stopped bool) {
	defer func() {
		if r := recover(); r != nil {
			t.clock.panicked("Timer.Stop", r)
			stopped = false
		}
	}()
	return t.next.Stop()
}

func (c safeClock) panicked(method string, r any) {
	if c.logger != nil {
		c.logger.Error("idpool: Config.Clock panicked; the system clock stands in", "method", method, "panic", panicdesc.Describe(r))
	}
}
