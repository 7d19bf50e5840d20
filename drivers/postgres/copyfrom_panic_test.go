package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/manager"
)

// TestCopyFromWhoseSourcePanics: pgx reads a CopyFrom's source in a
// goroutine of its own, where a panic (a pgx.CopyFromFunc callback's, or a
// CopyFromSource's Next, Values or Err) cannot be recovered by anyone: it
// ends the program. A Pool's and a Lease's CopyFrom instead abort the COPY
// (nothing is copied), and the panic goes on in the caller's goroutine,
// after the Pool call has handed its lease back, as the Pool's other calls
// do with a panic.
func TestCopyFromWhoseSourcePanics(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1})
	ctx := as(t, e.alice)
	e.createItems(t)
	panicky := func() pgx.CopyFromSource {
		i := 0
		return pgx.CopyFromFunc(func() ([]any, error) {
			i++
			if i == 3 {
				panic("copy source panicked")
			}
			return []any{i, "item"}, nil
		})
	}
	for _, c := range []struct {
		name string
		copy func(context.Context, pgx.CopyFromSource) (int64, error)
	}{
		{"Pool", func(ctx context.Context, src pgx.CopyFromSource) (int64, error) {
			return e.pool.CopyFrom(ctx, pgx.Identifier{"items"}, []string{"id", "name"}, src)
		}},
		{"Lease", func(ctx context.Context, src pgx.CopyFromSource) (n int64, err error) {
			err = e.pool.AcquireFunc(ctx, func(l *postgres.Lease) error {
				n, err = l.CopyFrom(ctx, pgx.Identifier{"items"}, []string{"id", "name"}, src)
				return err
			})
			return n, err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			func() {
				defer func() { assert.Equal(t, "copy source panicked", recover()) }()
				_, _ = c.copy(ctx, panicky())
				t.Error("CopyFrom returned")
			}()
			assert.Zero(t, e.busy(), "the lease came back")
			assert.Zero(t, e.countItems(t), "the COPY was aborted")
			short, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			n, err := c.copy(short, pgx.CopyFromRows([][]any{{1, "one"}}))
			require.NoError(t, err)
			assert.Equal(t, int64(1), n)
			_, err = e.pool.Exec(ctx, "DELETE FROM items")
			require.NoError(t, err)
		})
	}
}
