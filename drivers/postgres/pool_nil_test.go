package postgres

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// TestAFailedOpenPoolsResultAnswersWithErrNoManager: OpenPool's result kept
// although OpenPool failed is a nil *Pool; each of its methods says so
// rather than panic, and so does a Pool over a nil Manager.
func TestAFailedOpenPoolsResultAnswersWithErrNoManager(t *testing.T) {
	failed, err := OpenPool("postgres://u@h/db?sslmode=bogus", manager.Config{})
	require.Error(t, err)
	ctx := tokens.WithIdentity(context.Background(), tokens.SQLLogin())
	for name, p := range map[string]*Pool{"OpenPool's nil": failed, "NewPool(nil)": NewPool(nil)} {
		t.Run(name, func(t *testing.T) {
			_, err := p.Acquire(ctx)
			assert.ErrorIs(t, err, manager.ErrNoManager)
			assert.ErrorIs(t, p.AcquireFunc(ctx, func(*Lease) error { return nil }), manager.ErrNoManager)
			_, err = p.Exec(ctx, "SELECT 1")
			assert.ErrorIs(t, err, manager.ErrNoManager)
			_, err = p.Query(ctx, "SELECT 1")
			assert.ErrorIs(t, err, manager.ErrNoManager)
			assert.ErrorIs(t, p.QueryRow(ctx, "SELECT 1").Scan(new(int)), manager.ErrNoManager)
			br := p.SendBatch(ctx, &pgx.Batch{})
			_, err = br.Exec()
			assert.ErrorIs(t, err, manager.ErrNoManager)
			_, err = p.CopyFrom(ctx, pgx.Identifier{"t"}, []string{"a"}, pgx.CopyFromRows(nil))
			assert.ErrorIs(t, err, manager.ErrNoManager)
			_, err = p.Begin(ctx)
			assert.ErrorIs(t, err, manager.ErrNoManager)
			assert.Nil(t, p.Manager())
		})
	}
	assert.ErrorIs(t, failed.Close(), manager.ErrNoManager)
	assert.NoError(t, NewPool(nil).Close(), "a Pool from NewPool does not own its Manager")
}

// TestANilLeasesReleaseDoesNothing: Acquire's result with an error is a
// nil *Lease; a Release deferred before the error is checked (defer
// l.Release() right after Acquire) used to panic with a nil pointer,
// hiding the error, where manager.Lease's Release does nothing.
func TestANilLeasesReleaseDoesNothing(t *testing.T) {
	l, err := NewPool(nil).Acquire(tokens.WithIdentity(context.Background(), tokens.SQLLogin()))
	require.ErrorIs(t, err, manager.ErrNoManager)
	require.Nil(t, l)
	assert.NotPanics(t, l.Release)
}
