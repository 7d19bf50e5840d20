package postgres

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFullResetDropsBufferedNotifications: TestResetDropsBufferedNotifications
// for a release that needs the full reset (the lease PREPAREd a statement):
// DISCARD ALL ends the old LISTEN on the server, but a notification pgx had
// already read and buffered for it would still reach the next lease's
// WaitForNotification unless the full reset drops it too.
func TestFullResetDropsBufferedNotifications(t *testing.T) {
	sc, pc, _, _ := resetConn(t, "rstfullnotify")
	ctx := resetCtx(t)

	_, err := pc.Exec(ctx, "PREPARE p AS SELECT 1") // needs the full reset
	require.NoError(t, err)
	_, err = pc.Exec(ctx, "LISTEN leakchan")
	require.NoError(t, err)
	_, err = pc.Exec(ctx, "NOTIFY leakchan, 'secret'") // buffered by pgx when Exec returns
	require.NoError(t, err)

	require.NoError(t, sc.ResetSession(ctx))
	_, full, _ := pc.PgConn().Conn().(*sessionConn).counts()
	require.Equal(t, 1, full, "the release ran the full reset")
	n, _ := pc.WaitForNotification(done)
	assert.Nil(t, n, "a buffered notification crossed the full reset")
	assert.False(t, pc.IsClosed())
}
