package sqlserver_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/internal/unanswered"
	"github.com/idpool/idpool/manager"
)

// TestOpenDBPingWithoutIdentityEndsByTheDialTimeout: GORM's automatic ping
// (db.Ping with no deadline) probes the server without an identity. Against
// a host that drops the connect it waited for the system's TCP connect
// timeout, two minutes, not the DSN's dial timeout go-mssqldb keeps to.
func TestOpenDBPingWithoutIdentityEndsByTheDialTimeout(t *testing.T) {
	host, port := unanswered.Addr(t)
	addr := fmt.Sprintf("%s:%d", host, port)
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
