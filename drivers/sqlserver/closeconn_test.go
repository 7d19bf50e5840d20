package sqlserver_test

import (
	"context"
	"database/sql/driver"
	"fmt"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// go-mssqldb's Conn.Close gives the connection's buffer back to a pool
// every connection in the process shares and only then closes the socket.
// A call cancelled on a server that never confirms the cancel returns after
// go-mssqldb's 5 s drain with its response reader still blocked in a read of
// the socket, into that buffer; the lease comes back broken and the pool
// closes the connection. With CancelGrace off nothing cut the socket first:
// between the buffer's hand-back and the socket's close, the next
// connection opened in the process (perhaps another identity's) could take
// the buffer while the old server's bytes were still being read into it.
// The pool now closes every connection of a sqlserver.Dialer through its
// CloseConn, which closes the socket first: so the socket's first close
// must not come from inside go-mssqldb's Conn.Close (which has handed the
// buffer on by then), and go-mssqldb's reader must have been blocked on it.
//
// That go-mssqldb's reader is still blocked once the call returned is the
// test's premise, which go-mssqldb's timing decides, not the pool's: CI
// once found no reader of the call's (the call took 10 s, twice its usual
// drain). A run whose premise does not hold checks nothing and is made
// again, up to three times; the third failure fails the test.
func TestThePoolClosesTheSocketBeforeGoMssqldbHandsItsBufferOn(t *testing.T) {
	var wd *socketWatchingDialer
	for attempt := 1; wd == nil; attempt++ {
		// No cut (CancelGrace off): the pool's own close is all there is.
		var arranged bool
		var why string
		d := silentCallThenRelease(t, -1, func(callErr error, late time.Duration) {
			arranged = readerRunning()
			why = fmt.Sprintf("the call returned %s after its ctx ended: %v", late, callErr)
		})
		switch {
		case arranged:
			wd = d
		case attempt < 3:
			t.Logf("attempt %d: no reader of the call's was left blocked (%s); again", attempt, why)
		default:
			t.Fatalf("three times no reader of the call's was left blocked on the silent server (%s)", why)
		}
	}

	first := wd.first.Load()
	require.NotNil(t, first, "the pool closed the connection's socket")
	assert.True(t, first.readerRunning, "go-mssqldb's reader was still blocked on the socket when it was closed")
	assert.False(t, first.insideDriverClose,
		"the socket was first closed by go-mssqldb's Conn.Close, after it had handed the connection's buffer back to the pool the next connection takes it from")
	// Not even after the socket: over TLS the reader decrypts into the
	// buffer after its socket read returned, so the buffer must never go
	// back to go-mssqldb's pool.
	assert.Zero(t, wd.driverCloses.Load(), "go-mssqldb's Conn.Close ran, handing the connection's buffer to the next connection")
	awaitNoReader(t)
}

// socketWatchingDialer is a sqlserver.Dialer (its AbortTransport and
// CloseConn included, by embedding) that records the first close of the
// sockets under the connections it dials.
type socketWatchingDialer struct {
	*sqlserver.Dialer
	first atomic.Pointer[socketClose]
	// driverCloses counts socket closes made from inside go-mssqldb's
	// Conn.Close, which hands the buffer back first.
	driverCloses atomic.Int32
}

// socketClose is what was seen at a socket's first close.
type socketClose struct {
	// insideDriverClose: the close came from go-mssqldb's Conn.Close.
	insideDriverClose bool
	// readerRunning: a go-mssqldb response reader was still running.
	readerRunning bool
}

func (d *socketWatchingDialer) Dial(ctx context.Context, req actors.DialRequest) (driver.Conn, error) {
	c, err := d.Dialer.Dial(ctx, req)
	if err == nil && !sqlserver.WrapSockets(d.Dialer, c, func(nc net.Conn) net.Conn { return &watchedSocket{Conn: nc, d: d} }) {
		_ = c.Close()
		return nil, net.ErrClosed // cannot happen: the Dialer knows what it dialed
	}
	return c, err
}

// watchedSocket records its first Close on its Dialer.
type watchedSocket struct {
	net.Conn
	d      *socketWatchingDialer
	closed atomic.Bool
}

func (s *watchedSocket) Close() error {
	if calledFrom("github.com/microsoft/go-mssqldb.(*Conn).Close") {
		s.d.driverCloses.Add(1)
	}
	if !s.closed.Swap(true) {
		s.d.first.CompareAndSwap(nil, &socketClose{insideDriverClose: calledFrom("github.com/microsoft/go-mssqldb.(*Conn).Close"),
			readerRunning: readerRunning()})
	}
	return s.Conn.Close()
}

// calledFrom reports whether fn is on the caller's stack.
func calledFrom(fn string) bool {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if f.Function == fn {
			return true
		}
		if !more {
			return false
		}
	}
}

// A connection cut first (a call past its ctx by CancelGrace) is still
// closed without go-mssqldb's Conn.Close: the cut closes the socket only,
// and the Dialer keeps knowing the connection until its CloseConn, which
// would otherwise find it unknown and leave it to go-mssqldb's Close, whose
// buffer, over TLS, the reader can still be decrypting into.
func TestACutConnectionIsClosedWithoutGoMssqldbsClose(t *testing.T) {
	wd := silentCallThenRelease(t, 50*time.Millisecond, func(error, time.Duration) {})
	require.NotNil(t, wd.first.Load(), "the socket was closed")
	assert.Zero(t, wd.driverCloses.Load(), "go-mssqldb's Conn.Close ran on the cut connection, handing its buffer on")
	awaitNoReader(t)
}

// A connection a user closed through Raw() (go-mssqldb's Close: its buffer
// went back to go-mssqldb's process-wide pool, and the Dialer forgot it) must
// not be closed by go-mssqldb's Close again when the pool closes it: a second
// Close puts the same 64 KiB buffer into the pool twice, and two later
// connections, perhaps of two identities, then read and write one buffer.
func TestARawCloseIsNotFollowedBySecondGoMssqldbClose(t *testing.T) {
	wd, m, l, _ := watchedLease(t, 0)   // CancelGrace's default
	require.NoError(t, l.Raw().Close()) // the user's go-mssqldb Close
	require.EqualValues(t, 1, wd.driverCloses.Load())
	l.Release(driver.ErrBadConn)
	eventually(t, func() bool { s := m.Stats().Total; return s.Open == 0 && s.ClosingConns == 0 }, "the connection is closed")
	assert.EqualValues(t, 1, wd.driverCloses.Load(),
		"the pool's CloseConn ran go-mssqldb's Close a second time: the buffer went to go-mssqldb's pool twice")
}

// silentCallThenRelease leases a connection from a Manager with
// cancelGrace over a socketWatchingDialer, runs a call that a silenced
// server never answers, runs afterCall with the call's error and how long
// after its ctx's end it returned, releases the lease with the call's
// error, and waits until the pool has closed the broken connection.
func silentCallThenRelease(t *testing.T, cancelGrace time.Duration, afterCall func(callErr error, late time.Duration)) *socketWatchingDialer {
	t.Helper()
	watchReaders()
	wd, m, l, rig := watchedLease(t, cancelGrace)
	rig.proxy.SilenceOpen()
	late, err := timed(100*time.Millisecond, func(ctx context.Context) error { return execOn(ctx, l.Conn(), "SELECT 1") })
	require.Error(t, err, "a call to a silent server cannot succeed")
	afterCall(err, late)
	l.Release(err)
	eventually(t, func() bool { s := m.Stats().Total; return s.Open == 0 && s.ClosingConns == 0 }, "the broken connection is closed")
	return wd
}

// watchedLease leases a connection, used once, from a Manager with
// cancelGrace over a socketWatchingDialer, against a server behind the
// silent rig's proxy.
func watchedLease(t *testing.T, cancelGrace time.Duration) (*socketWatchingDialer, *manager.Manager, *manager.Lease, *silentRig) {
	t.Helper()
	rig := startSilentRig(t)
	d, err := sqlserver.NewDialer(rig.dsn)
	require.NoError(t, err)
	wd := &socketWatchingDialer{Dialer: d}
	m, err := manager.New(manager.Config{Server: d.ServerKey(), Dialer: wd, MaxSize: 2,
		CancelGrace: cancelGrace, HealthCheckAfter: -1})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.Close(ctx)
	})
	ctx := ctxT(t)
	l, err := m.Acquire(ctx, tokens.SQLLogin())
	require.NoError(t, err)
	require.NoError(t, execOn(ctx, l.Conn(), "SELECT 1"))
	return wd, m, l, rig
}
