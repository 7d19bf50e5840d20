package memdb_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/memdb"
)

func TestPingError(t *testing.T) {
	db := memdb.New()
	c := dial(t, db, "msi:system", "tok")
	require.NoError(t, c.Ping(context.Background()))
	boom := errors.New("server going away")
	db.SetPingError(boom)
	require.ErrorIs(t, c.Ping(context.Background()), boom)
	assert.True(t, c.IsValid(), "IsValid is a local check, not a ping")
	db.SetPingError(nil)
	require.NoError(t, c.Ping(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, c.Ping(ctx), context.Canceled)
	info := c.Info()
	assert.Equal(t, 4, info.Pings)
	assert.Equal(t, 1, info.Validates)
	assert.False(t, info.Dead)
	require.NoError(t, c.Close())
}

func TestResetError(t *testing.T) {
	db := memdb.New()
	c := dial(t, db, "msi:system", "tok")
	db.SetResetError(driver.ErrBadConn)
	require.ErrorIs(t, c.ResetSession(context.Background()), driver.ErrBadConn)
	db.SetResetError(nil)
	require.NoError(t, c.ResetSession(context.Background()))
	assert.Equal(t, 2, c.Info().Resets)
	require.NoError(t, c.Close())
}

func TestKillMakesEveryOpBadButCloseWorks(t *testing.T) {
	db := memdb.New()
	c := dial(t, db, "msi:system", "tok")
	other := dial(t, db, "msi:system", "tok")
	db.Kill(c.ID())
	db.Kill(c.ID()) // idempotent
	db.Kill(99)     // unknown: ignored
	assert.False(t, c.IsValid())
	require.ErrorIs(t, c.Ping(context.Background()), driver.ErrBadConn)
	require.ErrorIs(t, c.ResetSession(context.Background()), driver.ErrBadConn)
	_, err := query(t, c, "SELECT 1")
	require.ErrorIs(t, err, driver.ErrBadConn)
	require.ErrorIs(t, exec(t, c, "INSERT t"), driver.ErrBadConn)
	_, err = c.BeginTx(context.Background(), driver.TxOptions{})
	require.ErrorIs(t, err, driver.ErrBadConn)
	_, err = c.PrepareContext(context.Background(), "SELECT 1")
	require.ErrorIs(t, err, driver.ErrBadConn)
	assert.Equal(t, 0, db.CommittedRows("t"))

	info := c.Info()
	assert.True(t, info.Dead)
	assert.False(t, info.Closed)
	assert.Equal(t, 7, info.Uses)
	assert.True(t, other.IsValid(), "only the killed conn is dead")
	require.NoError(t, c.Close())
	assert.Equal(t, 0, db.Misuse())
	require.NoError(t, other.Close())
}

func TestKillAllKillsOnlyOpenConns(t *testing.T) {
	db := memdb.New()
	closed := dial(t, db, "", "")
	require.NoError(t, closed.Close())
	a, b := dial(t, db, "", ""), dial(t, db, "", "")
	db.KillAll()
	assert.False(t, a.IsValid())
	assert.False(t, b.IsValid())
	assert.False(t, db.Conns()[0].Dead, "a closed conn is not killed")
	c := dial(t, db, "", "")
	assert.True(t, c.IsValid(), "conns opened later are alive")
	for _, x := range []*memdb.Conn{a, b, c} {
		require.NoError(t, x.Close())
	}
}

func TestSleep(t *testing.T) {
	db := memdb.New()
	c := dial(t, db, "", "")
	require.NoError(t, exec(t, c, "SLEEP 1ms"))
	require.NoError(t, exec(t, c, "sleep 0s"))
	assert.False(t, c.Info().Dead)

	// A ctx that is already over: nothing is sent, the conn stays good.
	done, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.ExecContext(done, "SLEEP 1h", nil)
	require.ErrorIs(t, err, context.Canceled)
	assert.False(t, c.Info().Dead)
	assert.Equal(t, 0, c.Info().Cancels)

	// A ctx that ends mid-way leaves the wire state unknown.
	ctx, cancel2 := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel2()
	_, err = c.QueryContext(ctx, "SLEEP 1h", nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	info := c.Info()
	assert.True(t, info.Dead)
	assert.Equal(t, 1, info.Cancels)
	assert.False(t, c.IsValid())
	_, err = query(t, c, "SELECT 1")
	require.ErrorIs(t, err, driver.ErrBadConn)
	require.NoError(t, c.Close())
}

func TestKillEndsABlockedSleep(t *testing.T) {
	db := memdb.New()
	c := dial(t, db, "", "")
	errc := make(chan error, 1)
	go func() { errc <- exec(t, c, "SLEEP 1h") }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, db.Await(ctx, func() bool { return c.Info().Queries == 1 }))
	db.Kill(c.ID())
	require.ErrorIs(t, <-errc, driver.ErrBadConn)
	assert.Equal(t, 0, c.Info().Cancels)
	require.NoError(t, c.Close())
}

func TestFailQueries(t *testing.T) {
	db := memdb.New()
	c := dial(t, db, "", "")
	boom := errors.New("deadlock victim")
	db.FailQueries(1, boom)
	require.ErrorIs(t, exec(t, c, "INSERT t"), boom)
	require.NoError(t, exec(t, c, "INSERT t"))
	assert.Equal(t, 1, db.CommittedRows("t"), "the failed insert did nothing")
	assert.False(t, c.Info().Dead, "an application error keeps the conn")

	db.FailQueries(-1, nil)
	for range 3 {
		_, err := query(t, c, "SELECT 1")
		require.ErrorIs(t, err, memdb.ErrInjected)
	}
	db.FailQueries(0, nil)
	_, err := query(t, c, "SELECT 1")
	require.NoError(t, err)

	db.FailQueries(1, driver.ErrBadConn)
	_, err = query(t, c, "SELECT 1")
	require.ErrorIs(t, err, driver.ErrBadConn)
	assert.True(t, c.Info().Dead, "a bad-conn failure breaks the conn")
	require.NoError(t, c.Close())
}
