package manager

import (
	"context"
	"database/sql/driver"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/idpool/idpool/tokens"
)

// TestAZeroLeaseAnswersAsAReleasedOne: a Lease not from Acquire (declared,
// new(Lease), &Lease{}, or a nil *Lease) used to panic with a nil pointer
// in Key, WithRaw and every call on its Conn, and its Conn's IsValid said
// true. database/sql's and pgx's zero values fail with an error; a zero
// Lease now answers every call as a released lease does, with the same
// errors, and a Release or Close of it still does nothing.
func TestAZeroLeaseAnswersAsAReleasedOne(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1})
	released := acquire(t, m, sqlLogin)
	released.Release(nil)

	var declared Lease
	var nilLease *Lease
	for name, l := range map[string]*Lease{
		"a released lease (the reference)": released,
		"a declared Lease":                 &declared,
		"&Lease{}":                         {},
		"a nil *Lease":                     nilLease,
	} {
		t.Run(name, func(t *testing.T) {
			checkActsReleased(t, l)
		})
	}
	assert.Equal(t, tokens.Key(""), (&Lease{}).Key(), "a zero lease came from no pool")
	assert.Nil(t, (&Lease{}).Raw())
	assert.Nil(t, nilLease.Raw())
	assert.Nil(t, (&Lease{}).Conn().Lease(), "a zero lease's Conn holds no lease")

	// The Manager is unharmed: its one connection is still there to lease.
	acquire(t, m, sqlLogin).Release(nil)
}

// TestAZeroConnAnswersAsAReleasedOne: a Conn declared rather than reached
// through a lease is a zero lease's Conn.
func TestAZeroConnAnswersAsAReleasedOne(t *testing.T) {
	var c Conn
	checkConnActsReleased(t, &c)
	assert.Nil(t, c.Lease())
}

// checkActsReleased checks every exported method of l, and of its Conn, as
// a released lease answers them.
func checkActsReleased(t *testing.T, l *Lease) {
	t.Helper()
	ctx := context.Background()
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("panicked: %v", p)
		}
	}()
	ran := false
	assert.ErrorIs(t, l.WithRaw(ctx, func(driver.Conn) error { ran = true; return nil }), ErrLeaseReleased)
	assert.False(t, ran, "WithRaw ran f")
	assert.NotPanics(t, func() { _ = l.Key() })
	assert.NoError(t, l.CheckIdentity(ctx), "a ctx with no identity runs on any lease")
	if l.Conn().Lease() == nil {
		// A lease that never was has no identity for any ctx to match.
		assert.ErrorIs(t, l.CheckIdentity(tokens.WithIdentity(ctx, sqlLogin)), ErrLeaseReleased)
	}
	checkConnActsReleased(t, l.Conn())
	assert.NotPanics(t, func() { l.Release(errBad) })
	assert.NoError(t, l.Close())
	checkConnActsReleased(t, l.Conn()) // and again, after its Close
}

func checkConnActsReleased(t *testing.T, c *Conn) {
	t.Helper()
	ctx := context.Background()
	var err error
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("panicked: %v", p)
		}
	}()
	_, err = c.QueryContext(ctx, "SELECT 1", nil)
	assert.ErrorIs(t, err, ErrLeaseReleased, "QueryContext")
	_, err = c.ExecContext(ctx, "SELECT 1", nil)
	assert.ErrorIs(t, err, ErrLeaseReleased, "ExecContext")
	_, err = c.PrepareContext(ctx, "SELECT 1")
	assert.ErrorIs(t, err, ErrLeaseReleased, "PrepareContext")
	_, err = c.Prepare("SELECT 1")
	assert.ErrorIs(t, err, ErrLeaseReleased, "Prepare")
	_, err = c.BeginTx(ctx, driver.TxOptions{})
	assert.ErrorIs(t, err, ErrLeaseReleased, "BeginTx")
	_, err = c.Begin()
	assert.ErrorIs(t, err, ErrLeaseReleased, "Begin")
	assert.ErrorIs(t, c.Ping(ctx), ErrLeaseReleased, "Ping")
	assert.ErrorIs(t, c.CheckNamedValue(&driver.NamedValue{Ordinal: 1, Value: int64(1)}), ErrLeaseReleased, "CheckNamedValue")
	err = c.ResetSession(ctx)
	assert.ErrorIs(t, err, ErrLeaseReleased, "ResetSession")
	assert.ErrorIs(t, err, driver.ErrBadConn, "ResetSession: database/sql must discard it")
	assert.False(t, c.IsValid(), "IsValid")
	assert.NoError(t, c.Close())
	_, err = c.QueryContext(ctx, "SELECT 1", nil)
	assert.ErrorIs(t, err, ErrLeaseReleased, "QueryContext after Close")
}
