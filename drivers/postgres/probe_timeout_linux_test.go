package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/internal/unanswered"
	"github.com/idpool/idpool/manager"
)

// TestOpenDBPingWithoutIdentityEndsByTheConnectTimeout: GORM's automatic
// ping (db.Ping with no deadline) probes the server without an identity.
// Against a host that drops the connect it waited for the system's TCP
// connect timeout, not the DSN's connect_timeout pgx keeps to.
func TestOpenDBPingWithoutIdentityEndsByTheConnectTimeout(t *testing.T) {
	host, port := unanswered.Addr(t)
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
