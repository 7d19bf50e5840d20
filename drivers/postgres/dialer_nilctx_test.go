package postgres

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
)

// TestTheDialerRefusesANilContext: Dial and Probe, which a caller may use
// directly (a readiness check probing the server), panicked on a nil ctx
// inside pgx's or net's dial. They refuse it first, naming the call, and
// the Dialer then dials and probes as before.
func TestTheDialerRefusesANilContext(t *testing.T) {
	srv := pgtest.Shared(t)
	d, err := NewDialer(srv.AdminDSN())
	require.NoError(t, err)
	var nilCtx context.Context
	for name, call := range map[string]func() error{
		"Dialer.Dial": func() error {
			c, err := d.Dial(nilCtx, sqlLoginRequest(d.ServerKey()))
			assert.Nil(t, c)
			return err
		},
		"Dialer.Probe": func() error { return d.Probe(nilCtx) },
	} {
		var err error
		require.NotPanics(t, func() { err = call() }, name)
		require.ErrorIs(t, err, manager.ErrNilContext, name)
		assert.Contains(t, err.Error(), name+": nil Context")
	}
	require.NoError(t, d.Probe(context.Background()))
	c, err := dial(t, d, sqlLoginRequest(d.ServerKey()))
	require.NoError(t, err)
	require.NoError(t, c.Close())
}
