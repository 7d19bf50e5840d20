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
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/idpool/idpool/sim/memdb"
)

// errHalfLogin is what a Dialer returns beside a connection it opened: a
// login that failed after the session was up.
var errHalfLogin = errors.New("login failed after the session opened")

// refusedCloser is a ConnCloser: the pool must close its connections through
// CloseConn, never their own Close.
type refusedCloser struct {
	dial   DialerFunc
	closes atomic.Int32
}

func (d *refusedCloser) Dial(ctx context.Context, req DialRequest) (driver.Conn, error) {
	return d.dial(ctx, req)
}

func (d *refusedCloser) CloseConn(c driver.Conn) error {
	d.closes.Add(1)
	return c.Close()
}

// TestAConnectionReturnedWithADialErrorIsClosed: a Dialer may return a
// connection together with an error (a login that failed half way, a
// wrapper that returns what it got, `return c, err`). The dial fails with
// that error, and the connection, which the pool never holds, is closed
// (through CloseConn for a ConnCloser) before the Acquire hears of the
// failure: it was left open for good, a session the server kept counting.
// A nil pointer beside the error (the usual `return c, err` of a failed
// constructor) is nothing to close, and no panic.
func TestAConnectionReturnedWithADialErrorIsClosed(t *testing.T) {
	for _, tc := range []struct {
		name     string
		nilConn  bool
		closer   bool
		withHook bool
		traced   bool
	}{
		{name: "plain"},
		{name: "ConnCloser", closer: true},
		{name: "AfterConnect hook", withHook: true},
		{name: "traced", traced: true},
		{name: "nil pointer", nilConn: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := memdb.New()
			var dialed atomic.Int32
			dial := DialerFunc(func(ctx context.Context, req DialRequest) (driver.Conn, error) {
				dialed.Add(1)
				if tc.nilConn {
					var c *memdb.Conn
					return c, errHalfLogin
				}
				c, err := db.Dial(ctx, req)
				require.NoError(t, err)
				return c, errHalfLogin
			})
			cd := &refusedCloser{dial: dial}
			cfg := Config{Server: "memdb:1/test", Dialer: dial, MaxSize: 1, DialBackoff: -1, HealthCheckAfter: -1}
			if tc.closer {
				cfg.Dialer = cd
			}
			var hooked atomic.Int32
			if tc.withHook {
				cfg.Hooks.AfterConnect = func(context.Context, driver.Conn) error { hooked.Add(1); return nil }
			}
			if tc.traced {
				cfg.TracerProvider = tracenoop.NewTracerProvider()
			}
			m, err := New(cfg)
			require.NoError(t, err)
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				require.NoError(t, m.Close(ctx))
				assert.Zero(t, db.OpenNow(), "a connection outlived Close")
			}()
			for range 2 {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				l, err := m.Acquire(ctx, sqlLogin)
				cancel()
				require.Nil(t, l)
				require.ErrorIs(t, err, errHalfLogin)
				var de *DialError
				require.ErrorAs(t, err, &de)
				// The failure is sent once the close has finished.
				assert.Zero(t, db.OpenNow(), "the connection returned with the error is left open")
			}
			assert.EqualValues(t, 2, dialed.Load())
			assert.Zero(t, hooked.Load(), "AfterConnect ran on a failed dial")
			if tc.closer {
				assert.EqualValues(t, 2, cd.closes.Load(), "closed through CloseConn")
			}
			s := m.Stats().Total
			assert.Zero(t, s.Open+s.Busy+s.Dialing+s.Waiters+s.ClosingConns, "%+v", s)
			assert.EqualValues(t, 2, s.DialFailures)
		})
	}
}

// TestADialerReturningANilPointerFailsTheDial: a nil pointer with no error
// is not == nil, so it was taken for a connection and granted: the holder's
// first call on it panicked, far from the Dialer's mistake. It fails the
// dial as (nil, nil) does, naming its type.
func TestADialerReturningANilPointerFailsTheDial(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1, DialBackoff: -1, HealthCheckAfter: -1,
		Dialer: DialerFunc(func(context.Context, DialRequest) (driver.Conn, error) {
			var c *memdb.Conn
			return c, nil
		})})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := m.Acquire(ctx, sqlLogin)
	if l != nil {
		l.Release(nil)
	}
	require.Nil(t, l, "a nil connection was granted")
	var de *DialError
	require.ErrorAs(t, err, &de)
	assert.Contains(t, err.Error(), "nil *memdb.Conn")
	s := m.Stats().Total
	assert.Zero(t, s.Open+s.Busy+s.Dialing+s.Waiters+s.ClosingConns, "%+v", s)
}
