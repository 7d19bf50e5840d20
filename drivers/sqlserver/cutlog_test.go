package sqlserver_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// stalledLogs is a slog.Handler that blocks on the CancelGrace cut's
// warning until released, as a log shipper that stopped reading does.
type stalledLogs struct {
	release chan struct{}
	once    sync.Once
}

func (h *stalledLogs) Enabled(context.Context, slog.Level) bool { return true }
func (h *stalledLogs) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *stalledLogs) WithGroup(string) slog.Handler            { return h }
func (h *stalledLogs) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "idpool: a call outlived its ctx by CancelGrace; cutting its connection" {
		<-h.release
	}
	return nil
}

// A query through the *sql.DB facade on a server that stopped answering
// returns within CancelGrace of its ctx even when the application's log
// handler blocks on the cut's warning: the line is logged after the cut,
// and the query does not wait for it.
func TestACallIsCutWithinCancelGraceWhileTheLogHandlerBlocks(t *testing.T) {
	rig := startSilentRig(t)
	logs := &stalledLogs{release: make(chan struct{})}
	db, err := sqlserver.OpenDB(rig.dsn, manager.Config{MaxSize: 2, CancelGrace: cancelGrace, Logger: slog.New(logs)},
		manager.WithDefaultIdentity(tokens.SQLLogin()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	t.Cleanup(func() { logs.once.Do(func() { close(logs.release) }) }) // runs first
	var one int
	require.NoError(t, db.QueryRowContext(ctxT(t), "SELECT 1").Scan(&one))

	rig.proxy.Silence()
	done := make(chan time.Duration, 1)
	go func() {
		late, err := timed(100*time.Millisecond, func(ctx context.Context) error { return db.QueryRowContext(ctx, "SELECT 1").Scan(&one) })
		assert.Error(t, err, "a query on a silent server cannot succeed")
		done <- late
	}()
	select {
	case late := <-done:
		assert.Less(t, late, cancelGrace+cancelMargin, "the query returned %s after its ctx ended; CancelGrace is %s", late, cancelGrace)
	case <-time.After(10 * time.Second):
		logs.once.Do(func() { close(logs.release) })
		<-done
		t.Fatal("the query waited for the log handler: the cut's warning held it past CancelGrace")
	}
}
