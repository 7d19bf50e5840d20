package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// TestAZeroOrNilLeaseAnswersAsAReleasedOne: a postgres.Lease not from
// Acquire (declared, &Lease{}, or Acquire's nil result kept past its error)
// used to panic with a nil pointer in its calls; pgx's own zero values
// fail with an error. It now answers each call as a released lease does,
// with manager.ErrLeaseReleased, and Release does nothing.
func TestAZeroOrNilLeaseAnswersAsAReleasedOne(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 1})
	ctx := as(t, e.alice)
	released, err := e.pool.Acquire(ctx)
	if !assert.NoError(t, err) {
		return
	}
	released.Release()

	var declared postgres.Lease
	var nilLease *postgres.Lease
	for name, l := range map[string]*postgres.Lease{
		"a released lease (the reference)": released,
		"a declared Lease":                 &declared,
		"&Lease{}":                         {},
		"a nil *Lease":                     nilLease,
	} {
		t.Run(name, func(t *testing.T) {
			checkPgxLeaseActsReleased(t, ctx, l)
			checkPgxLeaseActsReleased(t, context.Background(), l)
		})
	}
	assert.Equal(t, tokens.Key(""), (&postgres.Lease{}).Key())
	assert.Equal(t, tokens.Key(""), nilLease.Key())

	// The pool is unharmed: its one connection is there to lease.
	l, err := e.pool.Acquire(ctx)
	if assert.NoError(t, err) {
		l.Release()
	}
}

func checkPgxLeaseActsReleased(t *testing.T, ctx context.Context, l *postgres.Lease) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("panicked: %v", p)
		}
	}()
	assert.Nil(t, l.Conn(), "Conn")
	assert.NotPanics(t, func() { _ = l.Key() })
	_, err := l.Exec(ctx, "SELECT 1")
	assert.ErrorIs(t, err, manager.ErrLeaseReleased, "Exec")
	rows, err := l.Query(ctx, "SELECT 1")
	assert.ErrorIs(t, err, manager.ErrLeaseReleased, "Query")
	if assert.NotNil(t, rows, "Query's Rows") {
		assert.False(t, rows.Next())
		assert.ErrorIs(t, rows.Err(), manager.ErrLeaseReleased, "Query's Rows.Err")
		rows.Close()
	}
	assert.ErrorIs(t, l.QueryRow(ctx, "SELECT 1").Scan(new(int)), manager.ErrLeaseReleased, "QueryRow")
	br := l.SendBatch(ctx, &pgx.Batch{})
	_, err = br.Exec()
	assert.ErrorIs(t, err, manager.ErrLeaseReleased, "SendBatch")
	assert.ErrorIs(t, br.Close(), manager.ErrLeaseReleased, "SendBatch's Close")
	_, err = l.CopyFrom(ctx, pgx.Identifier{"t"}, []string{"a"}, pgx.CopyFromRows([][]any{{1}}))
	assert.ErrorIs(t, err, manager.ErrLeaseReleased, "CopyFrom")
	_, err = l.Begin(ctx)
	assert.ErrorIs(t, err, manager.ErrLeaseReleased, "Begin")
	_, err = l.BeginTx(ctx, pgx.TxOptions{})
	assert.ErrorIs(t, err, manager.ErrLeaseReleased, "BeginTx")
	assert.NotPanics(t, l.Release)
	assert.NotPanics(t, l.Release, "twice")
}
