package fleet_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/idpool/idpool/fleet"
	"github.com/idpool/idpool/internal/etcdtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a log sink the budget's goroutines may write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestOneBudgetGivenToTwoManagers: the cap is the server's and a Manager
// serves one database of it, so a process with two databases on one server
// may well give one Budget to both Managers. A Subscribe used to replace the
// earlier one, silently: the first Manager's dials that waited for a fetch
// were never told the permits had come and timed out with permits at hand
// (nor would its connections have heard a Shed after a lost lease). The
// budget now signals both and says, in an error, to give each Manager its
// own Budget.
func TestOneBudgetGivenToTwoManagers(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	var logs syncBuffer
	b := newBudget(t, cli, fleet.Config{Prefix: "/t/twomanagers/", Cap: 4, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	first := newManager(t, memdb.New(), b)
	second := newManager(t, memdb.New(), b)
	l1, err := first.Acquire(patient(t), ident("a"))
	require.NoError(t, err, "the first Manager's dial waited for permits at hand")
	l2, err := second.Acquire(patient(t), ident("b"))
	require.NoError(t, err)
	l1.Release(nil)
	l2.Release(nil)
	require.Contains(t, logs.String(), "a second Manager uses this Budget")
}

// TestTwoManagersOfOneServerEachWithABudget: what the error above asks for,
// a Budget per Manager on one Prefix, shares the cap between them.
func TestTwoManagersOfOneServerEachWithABudget(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	cfg := fleet.Config{Prefix: "/t/twobudgets/", Cap: 1}
	first := newManager(t, memdb.New(), newBudget(t, cli, cfg))
	second := newManager(t, memdb.New(), newBudget(t, cli, cfg))
	l1, err := first.Acquire(patient(t), ident("a"))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = second.Acquire(ctx, ident("b"))
	var ft *manager.FleetTimeoutError
	require.True(t, errors.As(err, &ft), "the second Manager opened past the cap of 1: %v", err)
	l1.Release(nil)
	require.Equal(t, 1, fleetSum(t, cli, cfg.Prefix), "the idle connection keeps its permit")
}
