package sqlserver_test

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/sqlserver"
)

// The README ("With GORM, sqlx and sqlc") says what a Ping with no identity
// checks: that the server accepts a TCP connection, except for a named
// instance without a port, whose port SQL Browser gives at login, which is
// not probed.
func TestProbeSkipsANamedInstanceWithoutAPortOnly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now: a connect is refused

	named, err := sqlserver.NewDialer("sqlserver://app:x@nothing.invalid/SQLEXPRESS?database=appdb")
	require.NoError(t, err)
	assert.NoError(t, named.Probe(context.Background()), "a named instance without a port is not probed")

	withPort, err := sqlserver.NewDialer("sqlserver://app:x@" + closed + "/SQLEXPRESS?database=appdb")
	require.NoError(t, err)
	assert.Error(t, withPort.Probe(context.Background()), "a named instance with a port is probed at it")
}
