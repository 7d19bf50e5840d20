package postgres_test

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/manager"
)

// TestADeadlineALeaseLeftOnTheNetworkConnectionEndsAtRelease: a lease that
// set a deadline on the network connection under pgx (through
// Conn().PgConn().Conn(), and released it there, careless or hostile) used
// to hand it to the next lease of the same connection, whose first call
// then failed with an i/o timeout that had nothing to do with its own ctx,
// and cost the connection. pgx itself clears the deadlines it sets before
// a call returns, so an idle connection has none: Release now clears what a
// lease left, with the session reset and without it.
func TestADeadlineALeaseLeftOnTheNetworkConnectionEndsAtRelease(t *testing.T) {
	past := time.Now().Add(-time.Hour)
	for _, mode := range []struct {
		name string
		opts []postgres.Option
	}{
		{"with the session reset", nil},
		{"WithoutSessionReset", []postgres.Option{postgres.WithoutSessionReset()}},
	} {
		for _, set := range []struct {
			name string
			f    func(net.Conn) error
		}{
			{"SetDeadline", func(c net.Conn) error { return c.SetDeadline(past) }},
			{"SetReadDeadline", func(c net.Conn) error { return c.SetReadDeadline(past) }},
			{"SetWriteDeadline", func(c net.Conn) error { return c.SetWriteDeadline(past) }},
		} {
			t.Run(mode.name+"/"+set.name, func(t *testing.T) {
				e := newPgxEnv(t, manager.Config{MaxSize: 1}, mode.opts...)
				ctx := as(t, e.alice)
				l1, err := e.pool.Acquire(ctx)
				require.NoError(t, err)
				conn := l1.Conn()
				require.NoError(t, set.f(conn.PgConn().Conn()))
				l1.Release()

				l2, err := e.pool.Acquire(ctx)
				require.NoError(t, err)
				defer l2.Release()
				require.Same(t, conn, l2.Conn(), "the released connection is kept and reused")
				_, err = l2.Exec(ctx, "SELECT 1")
				assert.NoError(t, err, "the next lease's first call met the last lease's deadline")
			})
		}
	}
}
