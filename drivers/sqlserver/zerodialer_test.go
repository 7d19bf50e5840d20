package sqlserver_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// A Dialer not made by NewDialer (sqlserver.Dialer{}, new(sqlserver.Dialer))
// has no DSN; its Dial and Probe failed with a nil pointer dereference,
// which the pool reported as "dialer panicked". They say what is wrong.
func TestZeroDialerSaysItHasNoDSN(t *testing.T) {
	var d sqlserver.Dialer
	_, err := d.Dial(context.Background(), actors.DialRequest{Identity: tokens.SQLLogin()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "make it with NewDialer")
	err = d.Probe(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "make it with NewDialer")

	m, err := manager.New(manager.Config{Server: "db1:1433/appdb", Dialer: &d})
	require.NoError(t, err)
	defer func() { require.NoError(t, m.Close(context.Background())) }()
	_, err = m.Acquire(ctxT(t), tokens.SQLLogin())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "make it with NewDialer")
	assert.NotContains(t, err.Error(), "panicked")
}
