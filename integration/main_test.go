package integration

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/idpool/idpool/internal/pgtest"
)

// TestMain shares one PostgreSQL server across the package (started on first
// use by pgtest.Shared) and checks for leaked goroutines at the end. GORM's
// statement cache (PrepareStmt: true) starts a TTL sweeper that nothing can
// stop (gorm.io/gorm/internal/lru: "done channel is never closed"): it is
// GORM's, one per gorm.Open, and holds no connection.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(pgtest.Main(m), goleak.IgnoreTopFunction("gorm.io/gorm/internal/lru.NewLRU[...].func1"))
}
