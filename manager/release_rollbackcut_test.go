package manager

import (
	"context"
	"database/sql/driver"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// cleanRollbackDialer is the stuck driver, but a stuck Rollback whose
// transport is cut reports success, as a driver may when the server's
// answer and the cut cross.
type cleanRollbackDialer struct{ *stuckDialer }

type cleanRollbackConn struct{ *stuckConn }

type cleanRollbackTx struct{ c *stuckConn }

func (d cleanRollbackDialer) Dial(ctx context.Context, req DialRequest) (driver.Conn, error) {
	c, err := d.stuckDialer.Dial(ctx, req)
	if err != nil {
		return nil, err
	}
	return cleanRollbackConn{c.(*stuckConn)}, nil
}

func (d cleanRollbackDialer) AbortTransport(conn driver.Conn) bool {
	return d.stuckDialer.AbortTransport(conn.(cleanRollbackConn).stuckConn)
}

func (c cleanRollbackConn) Begin() (driver.Tx, error) { return cleanRollbackTx{c.stuckConn}, nil }
func (cleanRollbackTx) Commit() error                 { return nil }
func (t cleanRollbackTx) Rollback() error             { _ = t.c.wait(); return nil }

// A rollback of a transaction left open at Release that outlives its
// CancelGrace is cut, and the connection closed, even when the driver's
// Rollback reports success after the cut: the transport is dead whatever
// the driver said.
func TestAReleaseRollbackCutClosesTheConnectionEvenIfTheRollbackSucceeds(t *testing.T) {
	d, clock := cleanRollbackDialer{&stuckDialer{}}, newGraceClock()
	m := startManager(t, Config{Server: "stuck:1/db", Dialer: d, Clock: clock, CancelGrace: testGrace, HealthCheckAfter: -1, MaxSize: 1})
	l, err := m.Acquire(context.Background(), tokens.SQLLogin())
	require.NoError(t, err)
	c := l.Raw().(cleanRollbackConn).stuckConn
	_, err = l.Conn().BeginTx(context.Background(), driver.TxOptions{})
	require.NoError(t, err)
	released := make(chan struct{})
	go func() {
		defer close(released)
		l.Release(nil)
	}()
	c.awaitEntered(t)
	clock.awaitGrace(t)
	clock.advance(testGrace)
	<-released
	assert.EqualValues(t, 1, d.aborts.Load())
	awaitCloses(t, d.stuckDialer, 1)
}
