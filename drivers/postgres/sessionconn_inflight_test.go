package postgres

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// enteredConn closes entered when its first Read begins.
type enteredConn struct {
	net.Conn
	entered chan struct{}
}

func (e *enteredConn) Read(p []byte) (int, error) {
	select {
	case <-e.entered:
	default:
		close(e.entered)
	}
	return e.Conn.Read(p)
}

// TestSessionConnNeverDefersTheResetPastAReadInFlight: pgconn's background
// reader, started by a slow write, can read the request's last reply before
// pgx stops it, and then start one more Read, which stays blocked in the
// connection after the request is over and the connection is released.
// Such a Read began before the release, so it does not send the pending
// reset (only a Read that begins with the reset pending does), and pgx's
// next Read waits for it: a lease whose first call only reads
// (WaitForNotification) would be handed what the last lease's session
// produced, a notification for one of its LISTENs, with the reset never
// sent. A release with a Read in flight runs the full reset instead, whose
// request makes the server answer that Read.
func TestSessionConnNeverDefersTheResetPastAReadInFlight(t *testing.T) {
	client, server := net.Pipe()
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	ec := &enteredConn{Conn: client, entered: make(chan struct{})}
	sc := newSessionConn(ec)
	sc.out.started = true
	sc.in.loggedIn, sc.in.afterReady = true, true // the login is over

	read := make(chan []byte, 1)
	go func() { // the background reader's last Read
		b := make([]byte, 64)
		n, _ := sc.Read(b)
		read <- b[:n]
	}()
	<-ec.entered
	if sc.deferReset() {
		serve(t, server, oldNotify)
		got := <-read
		t.Fatalf("the release deferred the reset past a Read in flight, which then handed pgx %q, a notification for the last lease's LISTEN", got)
	}
	require.NoError(t, server.Close())
	<-read

	// Once no Read is in flight, a clean release defers again.
	sc2, _ := pipeConn(t)
	assert.True(t, sc2.deferReset())
}

// TestSessionConnCountsAReadBeforeItFindsNoResetToSend: a Read that finds
// no reset pending must already count as in flight, or a release in
// between (pgconn's background reader looping into one more Read while pgx
// ends the request and the lease is released) would defer the reset past
// it: that Read sends none, and pgx's next Read waits for it. The release
// here comes at the latest point before the Read reaches the network, and
// must run the full reset.
func TestSessionConnCountsAReadBeforeItFindsNoResetToSend(t *testing.T) {
	sc, server := pipeConn(t)
	deferred := make(chan bool, 1)
	sc.readBegun = func() {
		sc.readBegun = nil // once
		deferred <- sc.deferReset()
	}
	read := make(chan error, 1)
	go func() {
		_, err := sc.Read(make([]byte, 64))
		read <- err
	}()
	assert.False(t, <-deferred, "the release deferred the reset past a Read in flight")
	require.NoError(t, server.Close())
	<-read
}
