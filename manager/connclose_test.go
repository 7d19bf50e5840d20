package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
)

// closerDialer dials spyConns and is a ConnCloser: it counts its CloseConns
// and never calls the connection's Close.
type closerDialer struct{ closes atomic.Int64 }

func (*closerDialer) Dial(context.Context, DialRequest) (driver.Conn, error) { return newSpy(), nil }

func (d *closerDialer) CloseConn(driver.Conn) error {
	d.closes.Add(1)
	return nil
}

// The pools see the Dialer wrapped (hooks, metrics), and an AfterConnect
// hook's refusal closes the connection before any pool has it: both must
// close a ConnCloser's connections through its CloseConn (the sqlserver
// Dialer closes go-mssqldb's socket first there), never by their Close.
func TestAWrappedConnCloserClosesEveryConnectionItDialed(t *testing.T) {
	d := &closerDialer{}
	var refused atomic.Bool
	var conns []*spyConn
	var beforeClose atomic.Int64
	m, err := New(Config{Server: "srv", Dialer: d, MaxSize: 1, HealthCheckAfter: -1, DialBackoff: -1,
		MeterProvider: metricnoop.NewMeterProvider(),
		Hooks: Hooks{
			AfterConnect: func(_ context.Context, c driver.Conn) error {
				conns = append(conns, c.(*spyConn)) // dials are one at a time: MaxSize 1
				if refused.CompareAndSwap(false, true) {
					return errors.New("refused")
				}
				return nil
			},
			BeforeClose: func(driver.Conn) { beforeClose.Add(1) },
		}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	require.IsType(t, observedDialer{}, m.cfg.Dialer, "the pools see the Dialer wrapped")

	_, err = m.Acquire(context.Background(), sqlLogin)
	var he *HookError
	require.ErrorAs(t, err, &he, "AfterConnect refused the first connection")
	require.EqualValues(t, 1, d.closes.Load(), "the refused connection was closed through CloseConn")

	l := acquire(t, m, sqlLogin)
	l.Release(driver.ErrBadConn)
	eventually(t, func() bool { return d.closes.Load() == 2 }, "the broken connection closed through CloseConn")
	assert.EqualValues(t, 1, beforeClose.Load(), "BeforeClose saw the pool's close")
	require.Len(t, conns, 2)
	for i, c := range conns {
		assert.Zero(t, c.count("Close"), "connection %d closed by its own Close", i+1)
	}
}
