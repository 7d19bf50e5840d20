package unanswered

import (
	"fmt"
	"net"
	"syscall"
	"testing"
)

// Addr returns the host and port of a listener that accepts nothing, with a
// backlog of 0 that one connection (made here) fills; Linux then drops the
// SYN of every other connect, which hangs until its own timeout. Both are
// closed when t ends.
func Addr(t testing.TB) (host string, port int) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("unanswered: socket: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("unanswered: bind: %v", err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatalf("unanswered: listen: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("unanswered: getsockname: %v", err)
	}
	port = sa.(*syscall.SockaddrInet4).Port
	filler, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("unanswered: filling the backlog: %v", err)
	}
	t.Cleanup(func() { _ = filler.Close() })
	return "127.0.0.1", port
}
