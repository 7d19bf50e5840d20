package memdb_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

func TestDialAttemptsRecordEveryOutcome(t *testing.T) {
	db := memdb.New()
	tok := tokens.Token{Value: "t1", ExpiresOn: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	req := actors.DialRequest{Key: tokens.NewKey("srv", "msi:a"), Token: tok}
	ctx := context.Background()

	db.FailDials(1, nil)
	_, err := db.Dial(ctx, req)
	require.ErrorIs(t, err, memdb.ErrInjected)
	db.PanicDials(1)
	require.Panics(t, func() { _, _ = db.Dial(ctx, req) })
	done, cancel := context.WithCancel(ctx)
	cancel()
	_, err = db.Dial(done, req)
	require.ErrorIs(t, err, context.Canceled)
	c, err := db.Dial(ctx, req)
	require.NoError(t, err)

	got := db.DialAttempts()
	require.Len(t, got, 4)
	for _, a := range got {
		assert.Equal(t, "msi:a", a.Identity)
		assert.Equal(t, tok.Fingerprint(), a.TokenFingerprint)
		assert.True(t, a.TokenExpiresOn.Equal(tok.ExpiresOn))
	}
	require.ErrorIs(t, got[0].Err, memdb.ErrInjected)
	require.ErrorIs(t, got[1].Err, memdb.ErrDialPanicked)
	require.ErrorIs(t, got[2].Err, context.Canceled)
	require.NoError(t, got[3].Err)
	assert.Equal(t, []int64{0, 0, 0, 1}, []int64{got[0].ConnID, got[1].ConnID, got[2].ConnID, got[3].ConnID})
	assert.Equal(t, 4, db.Dials())
	require.NoError(t, c.Close())
}

func TestDialHookDecidesAndSeesTheAttempt(t *testing.T) {
	db := memdb.New()
	denied := errors.New("login failed for bob")
	var calls atomic.Int32
	db.SetDialHook(func(ctx context.Context, a memdb.DialAttempt) error {
		calls.Add(1)
		if a.Identity == "bob" {
			return denied
		}
		return nil
	})
	_, err := db.Connector("bob").Connect(context.Background())
	require.ErrorIs(t, err, denied)
	c, err := db.Connector("alice").Connect(context.Background())
	require.NoError(t, err)

	// Injected faults come first: the hook does not see a dial they fail.
	db.FailDials(1, nil)
	_, err = db.Connector("alice").Connect(context.Background())
	require.ErrorIs(t, err, memdb.ErrInjected)
	assert.Equal(t, int32(2), calls.Load())

	db.SetDialHook(nil)
	c2, err := db.Connector("bob").Connect(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int32(2), calls.Load())
	require.NoError(t, c.Close())
	require.NoError(t, c2.Close())
	assert.Equal(t, 2, db.Opened())
}

func TestEnforceTokenExpiry(t *testing.T) {
	db := memdb.New()
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	var clock atomic.Pointer[time.Time]
	clock.Store(&now)
	db.SetClock(func() time.Time { return *clock.Load() })
	db.EnforceTokenExpiry(true)
	ctx := context.Background()
	dialTok := func(exp time.Time) (driver.Conn, error) {
		return db.Dial(ctx, actors.DialRequest{
			Key:   tokens.NewKey("srv", "msi:a"),
			Token: tokens.Token{Value: "v", ExpiresOn: exp},
		})
	}

	_, err := dialTok(now)
	require.ErrorIs(t, err, memdb.ErrTokenExpired, "a token expiring now is expired")
	soon, err := dialTok(now.Add(time.Minute))
	require.NoError(t, err)
	unknown, err := dialTok(time.Time{})
	require.NoError(t, err, "an unknown expiry cannot be judged by the server")
	sqlLogin, err := db.Connector("").Connect(ctx)
	require.NoError(t, err)

	sc := soon.(*memdb.Conn)
	require.NoError(t, sc.Ping(ctx))
	later := now.Add(time.Minute)
	clock.Store(&later)
	require.ErrorIs(t, sc.Ping(ctx), memdb.ErrTokenExpired)
	assert.True(t, sc.Info().Dead)
	_, err = sc.QueryContext(ctx, "SELECT 1", nil)
	require.Error(t, err)
	assert.False(t, sc.IsValid())
	assert.Equal(t, 3, db.ExpiredUses())

	require.NoError(t, unknown.(*memdb.Conn).Ping(ctx))
	require.NoError(t, sqlLogin.(*memdb.Conn).Ping(ctx))

	db.EnforceTokenExpiry(false)
	fresh, err := dialTok(now)
	require.NoError(t, err, "not enforced: expired tokens log in")
	require.NoError(t, fresh.(*memdb.Conn).Ping(ctx))
	assert.Equal(t, 3, db.ExpiredUses())
	for _, c := range []driver.Conn{soon, unknown, sqlLogin, fresh} {
		require.NoError(t, c.Close(), "closing an expired conn works")
	}
	assert.Equal(t, 0, db.Misuse())
}
