package actors

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine running: the pool
// actor starts one per dial, mint, health check and close, each of which must
// report back and end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
