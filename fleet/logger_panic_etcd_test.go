package fleet_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/fleet"
	"github.com/idpool/idpool/internal/etcdtest"
	"github.com/idpool/idpool/manager"
)

// panicOnHandle is a slog.Handler that counts the records it gets and
// panics on each.
type panicOnHandle struct{ seen *atomic.Int32 }

func (panicOnHandle) Enabled(context.Context, slog.Level) bool { return true }
func (h panicOnHandle) Handle(context.Context, slog.Record) error {
	h.seen.Add(1)
	panic("log pipeline broken")
}
func (h panicOnHandle) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h panicOnHandle) WithGroup(string) slog.Handler      { return h }

// TestAPanickingLoggerDoesNotEndTheProcess: the budget logs from its own
// goroutines (here the error two different caps cause), where a panic of
// the user's handler used to end the process. The record is lost; the
// budget goes on keeping to the smaller cap.
func TestAPanickingLoggerDoesNotEndTheProcess(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	const prefix = "/t/loggerpanic/"
	var seen atomic.Int32
	logger := slog.New(panicOnHandle{&seen})
	small := newBudget(t, cli, fleet.Config{Prefix: prefix, Cap: 2, Batch: 1, IdleReturn: time.Hour, Logger: logger})
	takeN(t, small, 2)
	large := newBudget(t, cli, fleet.Config{Prefix: prefix, Cap: 4, Batch: 1, IdleReturn: time.Hour, Logger: logger})
	sl := newSignals(large)
	large.Want(2)
	require.Eventually(t, func() bool { return sl.any(func(s manager.BudgetSignal) bool { return s.Full }) }, 10*time.Second, time.Millisecond,
		"the process with the larger cap is told the fleet is full")
	require.Eventually(t, func() bool { return seen.Load() >= 2 }, 10*time.Second, time.Millisecond,
		"both processes logged the mismatch, into a handler that panicked")
	assert.False(t, large.TryAcquire(), "a permit beyond the smaller cap")
	assert.Equal(t, 2, large.Stats().FleetCap)
}
