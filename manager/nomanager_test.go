package manager

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// TestAFailedNewsResultAnswersEveryCallWithErrNoManager: New's result kept
// although New failed (nil), or a Manager declared rather than made (zero),
// names the mistake on every call instead of panicking somewhere inside.
func TestAFailedNewsResultAnswersEveryCallWithErrNoManager(t *testing.T) {
	failed, err := New(Config{MaxSize: -1})
	require.Error(t, err)
	ctx := context.Background()
	for name, m := range map[string]*Manager{"New's result after an error": failed, "a zero Manager": {}} {
		t.Run(name, func(t *testing.T) {
			l, err := m.Acquire(ctx, sqlLogin)
			assert.ErrorIs(t, err, ErrNoManager)
			assert.Nil(t, l)
			assert.ErrorIs(t, m.Evict(ctx, sqlLogin), ErrNoManager)
			assert.ErrorIs(t, m.Reset(ctx), ErrNoManager)
			assert.Zero(t, m.Stats().Pools)
			assert.ErrorIs(t, m.Close(ctx), ErrNoManager)

			// The facade over it: with an identity in the ctx and without.
			db := OpenDB(m)
			defer func() { _ = db.Close() }()
			_, err = db.ExecContext(tokens.WithIdentity(ctx, identity("a")), "SELECT 1")
			assert.ErrorIs(t, err, ErrNoManager)
			_, err = db.ExecContext(ctx, "SELECT 1")
			assert.Error(t, err)
		})
	}
}

// TestOpensFailedResultAndAZeroLeaseCanBeClosed: the deferred Close or
// Release a caller writes before checking the error does nothing harmful.
func TestOpensFailedResultAndAZeroLeaseCanBeClosed(t *testing.T) {
	db, err := Open(Config{MaxSize: -1})
	require.Error(t, err)
	assert.ErrorIs(t, db.Close(), ErrNoManager)
	var nilLease *Lease
	assert.NotPanics(t, func() { nilLease.Release(nil) })
	assert.NotPanics(t, func() { _ = nilLease.Close() })
	assert.NotPanics(t, func() { (&Lease{}).Release(errBad) })
}
