package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/idpool/idpool/sim/memdb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHooksRunAtEachPointOfAConnectionsLife(t *testing.T) {
	var before, after, prepare, afterRelease, beforeClose atomic.Int64
	m, db := newManager(t, Config{MaxSize: 1, HealthCheckAfter: -1, Hooks: Hooks{
		BeforeConnect: func(ctx context.Context, req *DialRequest) error { before.Add(1); return nil },
		AfterConnect: func(ctx context.Context, c driver.Conn) error {
			after.Add(1)
			_, err := c.(driver.ExecerContext).ExecContext(ctx, "INSERT setup", nil)
			return err
		},
		PrepareConn:  func(ctx context.Context, c driver.Conn) (bool, error) { prepare.Add(1); return true, nil },
		AfterRelease: func(c driver.Conn) bool { afterRelease.Add(1); return true },
		BeforeClose:  func(c driver.Conn) { beforeClose.Add(1) },
	}})
	for range 3 {
		l := acquire(t, m, sqlLogin)
		l.Release(nil)
	}
	assert.EqualValues(t, 1, before.Load())
	assert.EqualValues(t, 1, after.Load())
	assert.Equal(t, 1, db.CommittedRows("setup"), "AfterConnect ran on the connection")
	assert.EqualValues(t, 3, prepare.Load())
	assert.EqualValues(t, 3, afterRelease.Load())
	require.NoError(t, m.Close(context.Background()))
	assert.EqualValues(t, 1, beforeClose.Load())
}

func TestAfterConnectErrorDiscardsTheConnectionAndFailsTheDial(t *testing.T) {
	bad := errors.New("SET failed")
	m, db := newManager(t, Config{MaxSize: 1, DialBackoff: -1, Hooks: Hooks{
		AfterConnect: func(context.Context, driver.Conn) error { return bad },
	}})
	_, err := m.Acquire(context.Background(), sqlLogin)
	var he *HookError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, "AfterConnect", he.Hook)
	assert.ErrorIs(t, err, bad)
	eventually(t, func() bool { return db.OpenNow() == 0 }, "discarded connection closed")
}

func TestPrepareConnVetoesAConnectionAndAnotherIsTried(t *testing.T) {
	var calls atomic.Int64
	m, db := newManager(t, Config{MaxSize: 2, HealthCheckAfter: -1, Hooks: Hooks{
		PrepareConn: func(_ context.Context, c driver.Conn) (bool, error) {
			return calls.Add(1) > 1, nil // turn down the first one
		},
	}})
	l := acquire(t, m, sqlLogin)
	assert.EqualValues(t, 2, l.Raw().(*memdb.Conn).ID(), "the first connection was vetoed")
	l.Release(nil)
	eventually(t, func() bool { info, _ := db.Conn(1); return info.Closed }, "vetoed connection closed")
}

func TestPanickingHooksAreErrorsNotCrashes(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1, DialBackoff: -1, Hooks: Hooks{
		PrepareConn: func(context.Context, driver.Conn) (bool, error) { panic("boom") },
	}})
	_, err := m.Acquire(context.Background(), sqlLogin)
	var he *HookError
	require.ErrorAs(t, err, &he)
	assert.Contains(t, err.Error(), "panic: boom")
	assert.Equal(t, 0, m.Stats().Total.Busy, "the connection went back")
}

func TestAfterReleaseCanDiscard(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 1, Hooks: Hooks{AfterRelease: func(driver.Conn) bool { return false }}})
	l := acquire(t, m, sqlLogin)
	l.Release(nil)
	l = acquire(t, m, sqlLogin)
	l.Release(nil)
	assert.Equal(t, 2, db.Opened())
}
