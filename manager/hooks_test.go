package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
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
		PrepareConn: func(context.Context, driver.Conn) (bool, error) { panic("boom: token secret-in-panic") },
	}})
	_, err := m.Acquire(context.Background(), sqlLogin)
	var he *HookError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, "PrepareConn", he.Hook)
	assert.Contains(t, err.Error(), "panic: a value of type string")
	assert.NotContains(t, err.Error(), "secret-in-panic", "a panic's value may hold a secret: it is not printed")
	assert.Equal(t, 0, m.Stats().Total.Busy, "the connection went back")
}

// TestPanicsOfUserCodeNeverPrintTheirValue: a token source, a Dialer and a
// BeforeConnect hook that panic with a value holding the token fail the
// acquire with an error that names the panic's type and never its value;
// a runtime error's own message is kept, since the runtime wrote it.
func TestPanicsOfUserCodeNeverPrintTheirValue(t *testing.T) {
	const secret = "secret-token-in-panic"
	withToken := tokens.New(tokens.KindProvidedToken, "test:panicky", tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		panic(fmt.Errorf("cannot use token %s", secret))
	}))
	for _, tc := range []struct {
		name string
		cfg  Config
		id   tokens.Identity
		want string
	}{
		{"token source", Config{}, withToken, "token source panicked: a value of type *errors.errorString"},
		{"dialer", Config{Dialer: DialerFunc(func(context.Context, DialRequest) (driver.Conn, error) { panic(secret) })}, sqlLogin,
			"dialer panicked: a value of type string"},
		{"BeforeConnect", Config{Hooks: Hooks{BeforeConnect: func(_ context.Context, req *DialRequest) error { panic(req.Token.Value + secret) }}}, identity("bc"),
			"panic: a value of type string"},
		{"runtime error", Config{Hooks: Hooks{BeforeConnect: func(_ context.Context, req *DialRequest) error {
			var none []string
			_ = none[len(req.Token.Value+secret)]
			return nil
		}}}, sqlLogin, "runtime error: index out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.MaxSize, tc.cfg.DialBackoff = 1, -1
			m, _ := newManager(t, tc.cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := m.Acquire(ctx, tc.id)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), secret)
			assert.NotContains(t, err.Error(), "token-of-", "the identity's token")
		})
	}
}

func TestAfterReleaseCanDiscard(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 1, Hooks: Hooks{AfterRelease: func(driver.Conn) bool { return false }}})
	l := acquire(t, m, sqlLogin)
	l.Release(nil)
	l = acquire(t, m, sqlLogin)
	l.Release(nil)
	assert.Equal(t, 2, db.Opened())
}
