package postgres

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/idpool/idpool/internal/pgtest"
)

// One PostgreSQL server for the package; goleak checks that closed pgx
// connections leave no goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.Main(m)) }
