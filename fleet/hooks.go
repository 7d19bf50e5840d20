package fleet

import "sync/atomic"

// Test hooks: functions a test sets for the budget's goroutines to call at
// one point, to change the state there or to order events. They are read
// atomically: a test sets and clears one while goroutines of an earlier
// test's budget may still run (Close waits for them at most TTL/3), and
// those call whatever hook is set, so a hook that acts on a budget checks
// it is its own (beforeWait is handed the budget for that).
var (
	// beforeTake runs between a fetch's read and its transaction: tests
	// revoke the lease there.
	beforeTake atomic.Pointer[func()]
	// beforeGiveBack runs just before giveBack's write: tests lower the
	// process's holder key there, as another program could.
	beforeGiveBack atomic.Pointer[func()]
	// afterKeysRead runs between the watch's read of the keys and the
	// start of its watch: tests put a key there, where a watch started
	// without the read's revision would miss it.
	afterKeysRead atomic.Pointer[func()]
	// beforeWait runs on a budget's worker goroutine each time it is about
	// to wait for its timer or a kick, with no step in flight: tests change
	// the worker's and the budget's state there.
	beforeWait atomic.Pointer[func(b *Budget, w *worker)]
)

// runHook calls the hook h holds, if any.
func runHook(h *atomic.Pointer[func()]) {
	if f := h.Load(); f != nil {
		(*f)()
	}
}
