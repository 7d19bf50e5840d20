package postgres_test

import (
	"context"
	"database/sql/driver"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
)

// TestReleaseCutOfAHealthyLeftOpenPgxResult: on a healthy server, a
// result set left open on a manager.Lease is cut mid-reply at Release (at
// once: the Dialer is CtxBounded, see closeLeftRows). Release must still
// return, the connection must be closed, and the next lease (another
// goroutine keeps acquiring) must be served by a working connection. Run
// under -race: the socket is closed under pgx's buffered reader, whose
// cleanup may still run when the pool closes the connection on its own
// goroutine.
func TestReleaseCutOfAHealthyLeftOpenPgxResult(t *testing.T) {
	e := newPgxEnv(t, manager.Config{MaxSize: 2, CancelGrace: time.Microsecond})
	ctx := as(t, e.alice)
	m := e.pool.Manager()
	stop := make(chan struct{})
	other := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				other <- nil
				return
			default:
			}
			l, err := m.Acquire(ctx, e.alice)
			if err != nil {
				other <- err
				return
			}
			rows, err := l.Conn().QueryContext(ctx, "SELECT 1", nil)
			if err == nil {
				v := make([]driver.Value, 1)
				for rows.Next(v) == nil {
				}
				err = rows.Close()
			}
			l.Release(nil)
			if err != nil {
				other <- err
				return
			}
		}
	}()
	for range 20 {
		l, err := m.Acquire(ctx, e.alice)
		require.NoError(t, err)
		rows, err := l.Conn().QueryContext(context.Background(), "SELECT generate_series(1, 2000000)", nil)
		require.NoError(t, err)
		v := make([]driver.Value, 1)
		require.NoError(t, rows.Next(v))
		l.Release(nil)
	}
	close(stop)
	require.NoError(t, <-other, "the other caller's leases all worked")
	require.Eventually(t, func() bool { return e.busy() == 0 }, 10*time.Second, time.Millisecond)
}
