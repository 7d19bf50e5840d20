package foreign_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine running: the
// tests start `idpool tds` and foreign clients as processes, with goroutines
// that wait for them and read their output, and each must end with its test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
