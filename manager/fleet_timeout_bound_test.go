package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// blockOnRetire is a slog.Handler whose Handle blocks, once armed, on the
// manager actor's "pool retired" line until release is closed: a handler
// writing to a stalled pipe or log shipper.
type blockOnRetire struct {
	armed   *atomic.Bool
	entered chan struct{}
	once    *sync.Once
	release chan struct{}
}

func (blockOnRetire) Enabled(context.Context, slog.Level) bool { return true }
func (h blockOnRetire) Handle(_ context.Context, r slog.Record) error {
	if h.armed.Load() && strings.Contains(r.Message, "pool retired") {
		h.once.Do(func() { close(h.entered) })
		<-h.release
	}
	return nil
}
func (h blockOnRetire) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h blockOnRetire) WithGroup(string) slog.Handler      { return h }

// TestFleetTimeoutIsBoundedWhenTheManagerActorIsHeld: an acquire that times
// out while its pool's dial waits for a fleet permit asks the manager actor
// whether it waited at the fleet gate, to say so in a FleetTimeoutError. It
// waited for the answer without bound: with the manager actor held by user
// code (a Logger handler that blocks on a line the actor logs), the acquire
// returned only when the handler did, past its ctx, where without a fleet it
// returns at its ctx. It must return within a moment of its ctx. The
// actor's answer missing, the pool's own figures say whether its dial waited
// for the fleet: with no MaxTotal it did, and the error still names the
// fleet (a loaded machine that schedules the actor late is the same case);
// with a MaxTotal the permit awaited may be its, and the error is the plain
// timeout.
func TestFleetTimeoutIsBoundedWhenTheManagerActorIsHeld(t *testing.T) {
	for _, tc := range []struct {
		name       string
		maxTotal   int
		namesFleet bool
	}{
		{"no MaxTotal", 0, true},
		{"MaxTotal", 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) { fleetTimeoutWithTheActorHeld(t, tc.maxTotal, tc.namesFleet) })
	}
}

func fleetTimeoutWithTheActorHeld(t *testing.T, maxTotal int, namesFleet bool) {
	h := blockOnRetire{armed: new(atomic.Bool), entered: make(chan struct{}), once: new(sync.Once), release: make(chan struct{})}
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(h.release) }) }
	fb := &fakeBudget{avail: 2}
	m, _ := newManager(t, Config{MaxSize: 2, MaxTotal: maxTotal, Fleet: fb, HealthCheckAfter: -1, PoolIdleTimeout: 300 * time.Millisecond,
		Logger: slog.New(h)})
	t.Cleanup(release) // before the Manager's Close (cleanups run last first), which the handler would hold
	a := acquire(t, m, identity("alice"))
	defer a.Release(nil)
	// bob's pool exists (its acquires go to it, not through the manager
	// actor), with no connection; the fleet's other permit is then taken.
	acquire(t, m, identity("bob")).Release(driver.ErrBadConn)
	eventually(t, func() bool { _, taken, _ := fb.state(); return taken == 1 }, "bob's connection closed")
	fb.mu.Lock()
	fb.avail = 0
	fb.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	got := make(chan error, 1)
	go func() {
		_, err := m.Acquire(ctx, identity("bob"))
		got <- err
	}()
	eventually(t, func() bool { _, _, w := fb.state(); return w == 1 }, "bob's dial waits at the fleet gate")
	h.armed.Store(true)
	// Another identity's pool, made now, retires once idle: the manager
	// actor logs it, and the handler holds the actor there.
	xctx, xcancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	_, _ = m.Acquire(xctx, identity("xavier"))
	xcancel()
	select {
	case <-h.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the manager actor logged no retirement")
	}
	select {
	case err := <-got:
		require.True(t, errors.Is(err, ErrAcquireTimeout), "%v", err)
		var fe *FleetTimeoutError
		if !namesFleet {
			require.False(t, errors.As(err, &fe), "a MaxTotal permit may be what the dial waited for: %v", err)
			break
		}
		require.ErrorAs(t, err, &fe, "the pool's own figures say its dial waited for the fleet")
		require.Equal(t, 1, fe.DialsWaiting, "bob's pool's dial, counted by the pool")
		require.Contains(t, err.Error(), "waiting for a fleet session permit")
	case <-time.After(5 * time.Second): // the ctx ended 2s in
		release()
		<-got
		t.Fatal("the acquire waited for the held manager actor past its ctx")
	}
	release()
}
