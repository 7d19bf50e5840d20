package manager

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// blockOn is a slog.Handler that blocks on g at every record with message
// msg, as a handler writing to a pipe nobody drains does.
type blockOn struct {
	msg string
	g   *gate
}

func (h *blockOn) Enabled(context.Context, slog.Level) bool { return true }
func (h *blockOn) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.g.wait()
	}
	return nil
}
func (h *blockOn) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *blockOn) WithGroup(string) slog.Handler      { return h }

// TestCloseIsBoundedWithALoggerThatBlocks: a Logger handler that blocks
// holds up the actor it logs from (Config.Logger), and Close talks to the
// actors: it waited for the manager actor's answer, and for every pool's
// figures, for as long as the handler blocked, past its ctx, and a send to
// an idle actor ran that actor on Close's own goroutine, where the handler
// blocked Close itself. Close now returns within its bound (ctx's end plus
// CloseGrace, and one more CloseGrace for an actor's answer), saying an
// actor did not answer; what it held closes once the handler returns.
func TestCloseIsBoundedWithALoggerThatBlocks(t *testing.T) {
	for _, tc := range []struct {
		name, msg string
		// before Close: "acquire" starts one whose pool's creation the
		// handler holds (the manager actor); "release" releases a lease
		// broken, whose close's log line the handler holds (its pool);
		// "idle" leaves a connection idle, for Close to close (on its own
		// goroutine, until now).
		setup string
	}{
		{"the manager actor", "idpool: pool created", "acquire"},
		{"a pool actor", "idpool: connection closed", "release"},
		{"a pool actor Close runs", "idpool: connection closed", "idle"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGate()
			defer g.open()
			m, db := newManagerNoCleanup(t, Config{HealthCheckAfter: -1, Logger: slog.New(&blockOn{msg: tc.msg, g: g})})
			background := make(chan struct{})
			switch tc.setup {
			case "acquire":
				go func() {
					defer close(background)
					if l, err := m.Acquire(context.Background(), sqlLogin); err == nil {
						l.Release(nil)
					}
				}()
				<-g.entered
			case "release":
				l := acquire(t, m, sqlLogin)
				go func() { defer close(background); l.Release(errBad) }()
				<-g.entered
			case "idle":
				close(background)
				acquire(t, m, sqlLogin).Release(nil)
			}
			ctx, cancel := hostileCtx()
			defer cancel()
			closed := make(chan error, 1)
			go func() { closed <- m.Close(ctx) }()
			var err error
			select {
			case err = <-closed:
			case <-time.After(hostileDeadline + 2*CloseGrace + closeSlack):
				g.open()
				<-closed
				t.Fatal("Close was held past its bound by a Logger handler that blocks")
			}
			var ce *CloseError
			require.ErrorAs(t, err, &ce)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.True(t, ce.Unanswered, "%v", err)
			assert.Contains(t, err.Error(), "an actor did not answer")
			// Its figures missing, the counts are floors, and the text
			// says so where each is read: "0 closed by force" read alone
			// would be believed.
			assert.Contains(t, err.Error(), fmt.Sprintf("at least %d leased connections closed by force", ce.Forced))
			assert.Contains(t, err.Error(), fmt.Sprintf("at least %d connections closing", ce.Closing))
			g.open()
			<-background
			eventually(t, func() bool { return db.OpenNow() == 0 }, "closed once the handler returns")
			require.NoError(t, m.Close(context.Background()), "everything closed")
		})
	}
}
