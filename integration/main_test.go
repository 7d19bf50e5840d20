package integration

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/idpool/idpool/internal/pgtest"
)

// TestMain shares one PostgreSQL server across the package (started on first
// use by pgtest.Shared) and checks for leaked goroutines at the end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.Main(m)) }
