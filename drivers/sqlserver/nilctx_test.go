package sqlserver_test

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// TestTheDialerRefusesANilContext: Dial and Probe, which a caller may use
// directly (a readiness check probing the server), panicked on a nil ctx
// in context.WithTimeout or go-mssqldb's dial. They refuse it first,
// naming the call, and the Dialer then probes as before.
func TestTheDialerRefusesANilContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	d, err := sqlserver.NewDialer("sqlserver://app:x@" + ln.Addr().String() + "?database=appdb")
	require.NoError(t, err)
	var nilCtx context.Context
	for name, call := range map[string]func() error{
		"Dialer.Dial": func() error {
			c, err := d.Dial(nilCtx, actors.DialRequest{Key: tokens.NewKey(d.ServerKey(), ""), Identity: tokens.SQLLogin()})
			assert.Nil(t, c)
			return err
		},
		"Dialer.Probe": func() error { return d.Probe(nilCtx) },
	} {
		var err error
		require.NotPanics(t, func() { err = call() }, name)
		require.ErrorIs(t, err, manager.ErrNilContext, name)
		assert.Contains(t, err.Error(), "sqlserver: "+name+": ")
	}
	require.NoError(t, d.Probe(context.Background()), "the listener accepts the probe's connect")
}
