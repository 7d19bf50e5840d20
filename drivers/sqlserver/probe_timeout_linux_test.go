package sqlserver_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/manager"
)

// unansweredAddr is a loopback address whose connects hang, as a host
// behind a firewall that drops them does: a listener that accepts nothing,
// with a backlog of 0 that one connection fills; Linux then drops the SYN
// of every other.
func unansweredAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Close(fd) })
	require.NoError(t, syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, syscall.Listen(fd, 0))
	sa, err := syscall.Getsockname(fd)
	require.NoError(t, err)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	filler, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = filler.Close() })
	return addr
}

// TestOpenDBPingWithoutIdentityEndsByTheDialTimeout: GORM's automatic ping
// (db.Ping with no deadline) probes the server without an identity. Against
// a host that drops the connect it waited for the system's TCP connect
// timeout, two minutes, not the DSN's dial timeout go-mssqldb keeps to.
func TestOpenDBPingWithoutIdentityEndsByTheDialTimeout(t *testing.T) {
	addr := unansweredAddr(t)
	db, err := sqlserver.OpenDB("sqlserver://app:x@"+addr+"?database=appdb&encrypt=disable&dial+timeout=1", manager.Config{})
	require.NoError(t, err)
	defer db.Close()
	done := make(chan error, 1)
	go func() { done <- db.PingContext(context.Background()) }()
	select {
	case err := <-done:
		var ne net.Error
		require.True(t, errors.As(err, &ne) && ne.Timeout(), "a dial timeout: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the ping outlived the DSN's dial timeout (1s) by far")
	}
}
