package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/manager"
)

// unansweredAddr is a loopback host and port whose connects hang, as a host
// behind a firewall that drops them does: a listener that accepts nothing,
// with a backlog of 0 that one connection fills; Linux then drops the SYN
// of every other.
func unansweredAddr(t *testing.T) (string, int) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Close(fd) })
	require.NoError(t, syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, syscall.Listen(fd, 0))
	sa, err := syscall.Getsockname(fd)
	require.NoError(t, err)
	port := sa.(*syscall.SockaddrInet4).Port
	filler, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err)
	t.Cleanup(func() { _ = filler.Close() })
	return "127.0.0.1", port
}

// TestOpenDBPingWithoutIdentityEndsByTheConnectTimeout: GORM's automatic
// ping (db.Ping with no deadline) probes the server without an identity.
// Against a host that drops the connect it waited for the system's TCP
// connect timeout, not the DSN's connect_timeout pgx keeps to.
func TestOpenDBPingWithoutIdentityEndsByTheConnectTimeout(t *testing.T) {
	host, port := unansweredAddr(t)
	db, err := postgres.OpenDB(fmt.Sprintf("postgres://app@%s:%d/appdb?sslmode=disable&connect_timeout=1", host, port), manager.Config{})
	require.NoError(t, err)
	defer db.Close()
	done := make(chan error, 1)
	go func() { done <- db.PingContext(context.Background()) }()
	select {
	case err := <-done:
		var ne net.Error
		require.True(t, errors.As(err, &ne) && ne.Timeout(), "a connect timeout: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the ping outlived the DSN's connect_timeout (1s) by far")
	}
}
