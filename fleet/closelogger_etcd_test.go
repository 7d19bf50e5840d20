package fleet_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/fleet"
	"github.com/idpool/idpool/internal/etcdtest"
)

// blockingHandler is a slog.Handler whose Handle blocks until release is
// closed, as a handler writing to a stalled pipe or log shipper does.
type blockingHandler struct {
	entered chan struct{}
	once    *sync.Once
	release chan struct{}
}

func (blockingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h blockingHandler) Handle(context.Context, slog.Record) error {
	h.once.Do(func() { close(h.entered) })
	<-h.release
	return nil
}
func (h blockingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h blockingHandler) WithGroup(string) slog.Handler      { return h }

// TestCloseWithABlockedLoggerIsBounded: the budget logs from its own
// goroutines (here the error two different caps cause, from its watch), and
// Close waited for them without bound: a Logger whose handler blocks held
// Close, whatever its ctx, and with it the process's exit. Close must return
// (it waits for them at most TTL/3, as for its revocation; they end when the
// handler returns), and say so.
func TestCloseWithABlockedLoggerIsBounded(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	const prefix = "/t/closelogger/"
	h := blockingHandler{entered: make(chan struct{}), once: new(sync.Once), release: make(chan struct{})}
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(h.release) }) }
	t.Cleanup(release)
	logged, err := fleet.New(fleet.Config{Client: cli, Prefix: prefix, Cap: 4, TTL: 3 * time.Second, Logger: slog.New(h)})
	require.NoError(t, err)
	other := newBudget(t, cli, fleet.Config{Prefix: prefix, Cap: 2})
	takeN(t, other, 1) // puts its cap key, which the logged budget's watch logs
	select {
	case <-h.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the budget logged nothing")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- logged.Close(ctx) }()
	select {
	case err := <-done:
		require.Error(t, err, "Close returned with its goroutines still running, and said nothing")
	case <-time.After(10 * time.Second):
		release()
		<-done
		t.Fatal("Close waited for a blocked Logger without bound")
	}
	release()
	other.Release()
}
