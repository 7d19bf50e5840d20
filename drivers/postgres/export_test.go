package postgres

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// EndStrayRead ends a Read that pgconn's background reader left in flight:
// the reader starts when one of pgx's writes takes over 15 ms (as on a
// loaded machine) and may block in one more Read after its request. While
// such a Read is in flight the release runs the full reset by design (see
// deferReset), so a test that means to release with the deferred reset
// calls this first. A request makes the server answer the stray Read; its
// own write may start the reader again, hence the loop. (The simple
// protocol: no Parse, so the tests' Parse counts stay as they were.)
// Exported, in a file only tests compile, for the tests of package
// postgres_test too (pool_test.go).
func EndStrayRead(t *testing.T, ctx context.Context, pc *pgx.Conn) {
	t.Helper()
	for sessionOf(t, pc).readsInFlight() > 0 {
		_, err := pc.Exec(ctx, "SELECT 1")
		require.NoError(t, err)
	}
}
