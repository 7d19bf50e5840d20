package manager

import (
	"testing"
)

// A forced Close that finds no operation in flight is drained at once: it
// does not wait for its grace's end (Manager.Close's CloseGrace). Passed
// an expiry that has already passed, force may return by either case of
// its select, so the drain itself is what is checked. (Kills, without a
// hang, the mutant that drops force's drain when no operation is in
// flight: TestAPrepareConnHookDoesNotStartAfterAForcedClose, which forces
// with no expiry, noticed it only by hanging until the test timeout.)
func TestAForcedCloseWithNoOperationInFlightDrainsAtOnce(t *testing.T) {
	var g opGate
	expired := make(chan struct{})
	close(expired)
	g.force(expired)
	select {
	case <-g.drained:
	default:
		t.Fatal("a forced Close with no operation in flight waited for its grace's end")
	}
	if g.enter() {
		t.Fatal("an operation started after a forced Close")
	}
}
