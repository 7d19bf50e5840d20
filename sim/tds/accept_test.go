package tds

import (
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// failingListener fails its first Accepts as a listener out of file
// descriptors does, then accepts for real.
type failingListener struct {
	net.Listener
	failures atomic.Int32
}

func (l *failingListener) Accept() (net.Conn, error) {
	if l.failures.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// TestAcceptSurvivesRunningOutOfDescriptors: a flood of connections that
// used up the process's file descriptors made Accept fail with EMFILE, and
// the server stopped accepting for good, deaf once the flood had gone (seen
// with RLIMIT_NOFILE lowered to 64). Failed Accepts are now retried.
func TestAcceptSurvivesRunningOutOfDescriptors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	fl := &failingListener{Listener: ln}
	fl.failures.Store(3)
	srv, err := startOn(Options{}, fl)
	require.NoError(t, err)
	defer srv.Close()

	r := dialRaw(t, srv) // its 10s deadline is the failsafe
	r.send(pktPrelogin, 0, []byte{preTerminator})
	r.reply()
	require.Negative(t, fl.failures.Load(), "the failing Accepts were made")
}
