package postgres

import (
	"bytes"
	"net"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gatedConn holds its first Write until released, to stand for a goroutine
// descheduled between taking the reset and writing it.
type gatedConn struct {
	net.Conn
	mu      sync.Mutex
	writes  int
	entered chan struct{}
	release chan struct{}
}

func (g *gatedConn) Write(p []byte) (int, error) {
	g.mu.Lock()
	g.writes++
	first := g.writes == 1
	g.mu.Unlock()
	if first {
		close(g.entered)
		<-g.release
	}
	return g.Conn.Write(p)
}

// overtaken reports whether a second Write reached g while the first was
// held.
func (g *gatedConn) overtaken() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.writes > 1
}

// parkedIn reports whether some goroutine is blocked (not running) with fn
// on its stack, and not inside notIn.
func parkedIn(fn, notIn string) bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		header, _, _ := bytes.Cut(g, []byte("\n"))
		if bytes.Contains(g, []byte(fn)) && !bytes.Contains(g, []byte(notIn)) &&
			!bytes.Contains(header, []byte("[running]")) && !bytes.Contains(header, []byte("[runnable]")) {
			return true
		}
	}
	return false
}

// TestSessionConnPendingResetSentByAReadPrecedesAConcurrentWrite: pgconn's
// background reader starts reading while a write of pgx's is slow (15 ms
// in), so a Read can find the reset pending and send it on its own while
// the request pgx is writing goes through Write at the same time. Were the
// two writes to reach the connection in the other order, the request would
// run on the session the last lease left, and the filter would take the
// request's replies for the reset's and hand pgx the reset's as its result.
// The request must wait for the reset to be on the wire.
func TestSessionConnPendingResetSentByAReadPrecedesAConcurrentWrite(t *testing.T) {
	client, server := net.Pipe()
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	g := &gatedConn{Conn: client, entered: make(chan struct{}), release: make(chan struct{})}
	sc := newSessionConn(g)
	sc.out.started = true
	sc.in.loggedIn, sc.in.afterReady = true, true // the login is over
	require.True(t, sc.deferReset())

	readErr := make(chan error, 1)
	go func() { // pgconn's background reader
		_, err := sc.Read(make([]byte, 64))
		readErr <- err
	}()
	<-g.entered // the Read took the reset and is about to write it

	writeDone := make(chan error, 1)
	go func() {
		_, err := sc.Write(userQuery)
		writeDone <- err
	}()
	received := make(chan []byte, 1)
	go func() { received <- readN(server, len(resetMessages[1])+len(userQuery)) }()
	// Hold the reset back until the request has either reached the
	// connection (g's second Write: it overtook the reset) or is parked
	// inside sessionConn.Write waiting for it; only then let the reset
	// through.
	for !g.overtaken() && !parkedIn("(*sessionConn).Write", "(*gatedConn).Write") {
		runtime.Gosched()
	}
	close(g.release)
	require.NoError(t, <-writeDone)
	assert.Equal(t, cat(resetMessages[1], userQuery), <-received, "the reset went first")
	_ = server.Close()
	<-readErr
}
