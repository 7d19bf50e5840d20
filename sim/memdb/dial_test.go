package memdb_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

func TestDialRecordsIdentityAndTokenButNotItsValue(t *testing.T) {
	db := memdb.New()
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tok := tokens.Token{Value: "secret-token-value", ExpiresOn: exp}
	dc, err := db.Dial(context.Background(), actors.DialRequest{
		Key:   tokens.NewKey("sql1.example:1433", "sp:tenant/client"),
		Token: tok,
	})
	require.NoError(t, err)
	c := dc.(*memdb.Conn)
	assert.Equal(t, int64(1), c.ID())
	assert.Equal(t, "sp:tenant/client", c.Identity())
	assert.Equal(t, tok.Fingerprint(), c.TokenFingerprint())

	info, ok := db.Conn(1)
	require.True(t, ok)
	assert.Equal(t, "sp:tenant/client", info.Identity)
	assert.Equal(t, tok.Fingerprint(), info.TokenFingerprint)
	assert.True(t, info.TokenExpiresOn.Equal(exp))
	assert.False(t, info.Opened.IsZero())
	assert.NotContains(t, fmt.Sprintf("%+v %#v", info, db.Conns()), "secret-token-value")

	// A SQL login: no discriminator, no token.
	dc2, err := db.Dial(context.Background(), actors.DialRequest{Key: tokens.NewKey("sql1.example:1433", "")})
	require.NoError(t, err)
	info2 := dc2.(*memdb.Conn).Info()
	assert.Equal(t, int64(2), info2.ID)
	assert.Equal(t, "", info2.Identity)
	assert.Equal(t, "", info2.TokenFingerprint)
	assert.True(t, info2.TokenExpiresOn.IsZero())

	_, ok = db.Conn(3)
	assert.False(t, ok)
	_, ok = db.Conn(0)
	assert.False(t, ok)
	assert.Equal(t, 2, db.Dials())
	assert.Equal(t, 2, db.Opened())
	assert.Equal(t, 2, db.OpenNow())
	require.NoError(t, dc.Close())
	assert.Equal(t, 1, db.OpenNow())
	assert.Equal(t, 2, db.Opened())
	conns := db.Conns()
	require.Len(t, conns, 2)
	assert.Equal(t, []int64{1, 2}, []int64{conns[0].ID, conns[1].ID})
	assert.True(t, conns[0].Closed)
	assert.Equal(t, 1, conns[0].CloseCount)
	assert.False(t, conns[1].Closed)
	require.NoError(t, dc2.Close())
}

func TestSetClockStampsOpened(t *testing.T) {
	db := memdb.New()
	at := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	db.SetClock(func() time.Time { return at })
	c := dial(t, db, "msi:system", "tok")
	assert.True(t, c.Info().Opened.Equal(at))
	require.NoError(t, c.Close())
}

func TestFailDials(t *testing.T) {
	db := memdb.New()
	boom := errors.New("login failed")
	db.FailDials(3, boom)
	for range 2 {
		dc, err := db.Dial(context.Background(), actors.DialRequest{})
		require.ErrorIs(t, err, boom)
		// Not just a nil *Conn inside a non-nil interface.
		require.True(t, dc == nil, "a failed dial returns a nil driver.Conn")
	}
	dc, err := db.Connector("x").Connect(context.Background())
	require.ErrorIs(t, err, boom)
	require.True(t, dc == nil, "a failed connect returns a nil driver.Conn")
	c := dial(t, db, "msi:system", "tok")
	assert.Equal(t, 4, db.Dials())
	assert.Equal(t, 1, db.Opened())

	db.FailDials(-1, nil)
	for range 3 {
		_, err := db.Dial(context.Background(), actors.DialRequest{})
		require.ErrorIs(t, err, memdb.ErrInjected)
	}
	db.FailDials(0, nil)
	c2 := dial(t, db, "msi:system", "tok")
	assert.Equal(t, 8, db.Dials())
	assert.Equal(t, 2, db.Opened())
	assert.Equal(t, 2, db.OpenNow())
	require.NoError(t, c.Close())
	require.NoError(t, c2.Close())
}

func TestDialLatencyHonoursCtx(t *testing.T) {
	db := memdb.New()
	db.SetDialLatency(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := db.Dial(ctx, actors.DialRequest{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, 1, db.Dials())
	assert.Equal(t, 0, db.Opened())

	db.SetDialLatency(time.Microsecond)
	c := dial(t, db, "msi:system", "tok")
	require.NoError(t, c.Close())

	// A dial whose ctx is already done fails without opening anything.
	done, cancel2 := context.WithCancel(context.Background())
	cancel2()
	db.SetDialLatency(0)
	_, err = db.Dial(done, actors.DialRequest{})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 1, db.Opened())
}

func TestPanicDials(t *testing.T) {
	db := memdb.New()
	db.PanicDials(1)
	require.PanicsWithValue(t, "memdb: injected dial panic", func() {
		_, _ = db.Dial(context.Background(), actors.DialRequest{})
	})
	c := dial(t, db, "msi:system", "tok")
	assert.Equal(t, 2, db.Dials())
	assert.Equal(t, 1, db.Opened())
	require.NoError(t, c.Close())

	db.PanicDials(3)
	db.PanicDials(0) // cancels
	require.NoError(t, dial(t, db, "msi:system", "tok").Close())
}

func TestBlockDialsHoldsConcurrentDials(t *testing.T) {
	db := memdb.New()
	release := db.BlockDials()
	const n = 3
	errs := make(chan error, n)
	conns := make(chan *memdb.Conn, n)
	for range n {
		go func() {
			c, err := db.Dial(context.Background(), actors.DialRequest{})
			if c != nil {
				conns <- c.(*memdb.Conn)
			}
			errs <- err
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, db.Await(ctx, func() bool { return db.Dials() == n }))
	assert.Equal(t, 0, db.Opened(), "all dials are held")

	// A blocked dial gives up when its ctx ends, consuming no fault.
	db.FailDials(1, nil)
	short, cancelShort := context.WithCancel(context.Background())
	cancelShort()
	_, err := db.Dial(short, actors.DialRequest{})
	require.ErrorIs(t, err, context.Canceled)

	release()
	release() // harmless
	var failed int
	for range n {
		if err := <-errs; err != nil {
			require.ErrorIs(t, err, memdb.ErrInjected)
			failed++
		}
	}
	assert.Equal(t, 1, failed, "exactly one held dial takes the scheduled failure")
	assert.Equal(t, n-1, db.Opened())
	close(conns)
	for c := range conns {
		require.NoError(t, c.Close())
	}
}

func TestBlockDialsStack(t *testing.T) {
	db := memdb.New()
	r1, r2 := db.BlockDials(), db.BlockDials()
	done := make(chan error, 1)
	go func() {
		c, err := db.Dial(context.Background(), actors.DialRequest{})
		if err == nil {
			err = c.Close()
		}
		done <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, db.Await(ctx, func() bool { return db.Dials() == 1 }))
	r1()
	select {
	case <-done:
		t.Fatal("dial passed while a block was still in force")
	case <-time.After(20 * time.Millisecond):
	}
	r2()
	require.NoError(t, <-done)
	// Blocks released: new dials pass at once.
	require.NoError(t, dial(t, db, "", "").Close())
}

func TestConnectorAndDriver(t *testing.T) {
	db := memdb.New()
	dc, err := db.Connector("alice").Connect(context.Background())
	require.NoError(t, err)
	c := dc.(*memdb.Conn)
	assert.Equal(t, "alice", c.Identity())
	assert.Equal(t, "", c.TokenFingerprint())

	drv := db.Connector("alice").Driver()
	dc2, err := drv.Open("bob")
	require.NoError(t, err)
	assert.Equal(t, "bob", dc2.(*memdb.Conn).Identity())

	cn, err := db.Driver().OpenConnector("carol")
	require.NoError(t, err)
	dc3, err := cn.Connect(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "carol", dc3.(*memdb.Conn).Identity())

	db.FailDials(1, nil)
	_, err = db.Connector("x").Connect(context.Background())
	require.ErrorIs(t, err, memdb.ErrInjected, "dial faults apply to the connector too")
	for _, c := range []interface{ Close() error }{dc, dc2, dc3} {
		require.NoError(t, c.Close())
	}
	assert.Equal(t, 0, db.OpenNow())
}

func TestPeakOpenIsTheHighWaterMarkOfOpenNow(t *testing.T) {
	db := memdb.New()
	dial := func() driver.Conn {
		c, err := db.Dial(context.Background(), actors.DialRequest{Key: tokens.NewKey("srv", "sql:u")})
		require.NoError(t, err)
		return c
	}
	a, b := dial(), dial()
	require.NoError(t, a.Close())
	c := dial()
	assert.Equal(t, 2, db.OpenNow())
	assert.Equal(t, 2, db.PeakOpen())
	require.NoError(t, b.Close())
	require.NoError(t, c.Close())
	db.FailDials(1, nil)
	_, err := db.Dial(context.Background(), actors.DialRequest{Key: tokens.NewKey("srv", "sql:u")})
	require.Error(t, err)
	assert.Zero(t, db.OpenNow())
	assert.Equal(t, 2, db.PeakOpen(), "a failed dial and closes leave the peak")
	d, e, f := dial(), dial(), dial()
	assert.Equal(t, 3, db.PeakOpen())
	for _, c := range []driver.Conn{d, e, f} {
		require.NoError(t, c.Close())
	}
}
