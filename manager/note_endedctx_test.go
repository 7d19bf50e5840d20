package manager

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
	"github.com/idpool/idpool/tokens"
)

// plainErrDialer dials connections whose Exec of "FAIL" fails with an
// ordinary error (one IsBroken does not count), whatever its ctx: a
// driver that noticed its ctx's end only after the server answered, or
// reports the server's error rather than the ctx's.
type plainErrDialer struct {
	dials, closes atomic.Int32
}

var errPlainFailure = errors.New("plainErrConn: syntax error")

func (d *plainErrDialer) Dial(context.Context, actors.DialRequest) (driver.Conn, error) {
	d.dials.Add(1)
	return &plainErrConn{d: d}, nil
}

type plainErrConn struct{ d *plainErrDialer }

func (c *plainErrConn) ExecContext(_ context.Context, q string, _ []driver.NamedValue) (driver.Result, error) {
	if q == "FAIL" {
		return nil, errPlainFailure
	}
	return driver.RowsAffected(0), nil
}
func (c *plainErrConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("not supported") }
func (c *plainErrConn) Close() error                        { c.d.closes.Add(1); return nil }
func (c *plainErrConn) Begin() (driver.Tx, error)           { return nil, errors.New("not supported") }

// A call that fails once its ctx has ended was cut short by it, whatever
// error the driver reports, and leaves the connection in a state nobody
// knows: the lease is broken, and its connection closed at Release even
// when a later call, under a live ctx, succeeded on it (so Release's own
// look at the last call's ctx cannot see it). (Kills the mutant that drops
// note's ctx.Err() check.)
func TestACallFailingAfterItsCtxEndedBreaksTheLeaseDespiteALaterCall(t *testing.T) {
	d := &plainErrDialer{}
	m := startManager(t, Config{Server: "plain:1/db", Dialer: d, HealthCheckAfter: -1, MaxSize: 1})
	l, err := m.Acquire(context.Background(), tokens.SQLLogin())
	require.NoError(t, err)
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = l.Conn().ExecContext(ended, "FAIL", nil)
	require.ErrorIs(t, err, errPlainFailure)
	_, err = l.Conn().ExecContext(context.Background(), "OK", nil)
	require.NoError(t, err, "a later call under a live ctx")
	l.Release(nil)

	next, err := m.Acquire(context.Background(), tokens.SQLLogin())
	require.NoError(t, err)
	defer next.Release(nil)
	require.EqualValues(t, 2, d.dials.Load(), "the next lease got the connection back")
	assert.Eventually(t, func() bool { return d.closes.Load() == 1 }, 10*time.Second, time.Millisecond,
		"the connection of a call cut short by its ctx was not closed")
}
