package postgres

import (
	"database/sql/driver"
	"testing"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/pgtest"
)

// TestWithoutSessionResetStillRefusesAConnectionNotToReuse: keepSession, the
// ResetSession hook of a Dialer built WithoutSessionReset, does no reset but
// still refuses (driver.ErrBadConn, so the pool closes the connection) one
// whose result is still being read, whose rest would reach the next lease,
// and any release whose ctx has ended (the Manager closing). Through Pool,
// Acquire's reusable check hides the first; a Manager's other users (the
// facade, manager.Lease.Raw) rely on the hook alone.
func TestWithoutSessionResetStillRefusesAConnectionNotToReuse(t *testing.T) {
	ctx := resetCtx(t)
	keptConn := func(t *testing.T) (*stdlib.Conn, *pgtest.Server) {
		srv := pgtest.Shared(t)
		role, pwd := srv.NewRole(t, "nrrefuse")
		d, err := NewDialer(srv.DSN(role, pwd, "postgres"), WithoutSessionReset())
		require.NoError(t, err)
		c, err := dial(t, d, sqlLoginRequest(d.ServerKey()))
		require.NoError(t, err)
		return c.(*stdlib.Conn), srv
	}
	t.Run("result still being read", func(t *testing.T) {
		sc, _ := keptConn(t)
		rows, err := sc.Conn().Query(ctx, "SELECT generate_series(1, 100000)")
		require.NoError(t, err)
		defer rows.Close()
		require.True(t, rows.Next())
		assert.ErrorIs(t, sc.ResetSession(ctx), driver.ErrBadConn)
	})
	t.Run("ctx ended", func(t *testing.T) {
		sc, _ := keptConn(t)
		assert.ErrorIs(t, sc.ResetSession(done), driver.ErrBadConn)
	})
	t.Run("idle connection kept", func(t *testing.T) {
		sc, _ := keptConn(t)
		require.NoError(t, sc.ResetSession(ctx))
		assert.False(t, sc.Conn().IsClosed())
	})
}
