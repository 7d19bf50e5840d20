package fleet_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idpool/idpool/fleet"
	"github.com/idpool/idpool/internal/etcdtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestFairShareRoundsUp: a process holding the whole cap of 3 while one
// other waits keeps its fair share, the cap divided between the two rounded
// up (2), and closes one connection, not two: rounding down would leave a
// permit of the cap to no one while both have work.
func TestFairShareRoundsUp(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	const prefix = "/t/fairshare/roundup/"
	a := newBudget(t, cli, fleet.Config{Prefix: prefix, Cap: 3, Batch: 1, IdleReturn: time.Hour})
	b := newBudget(t, cli, fleet.Config{Prefix: prefix, Cap: 3, Batch: 1, IdleReturn: time.Hour})
	takeN(t, a, 3)
	b.Want(1)
	require.Eventually(t, func() bool { return a.Stats().Shed > 0 }, 10*time.Second, time.Millisecond,
		"the holder sees the other process wait")
	assert.Equal(t, 1, a.Stats().Shed, "the holder keeps less than its fair share of ceil(3/2)")
	b.Want(0)
}

// recordLog collects the messages of the records a budget logs.
type recordLog struct {
	mu   sync.Mutex
	msgs []string
}

func (l *recordLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *recordLog) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}
func (l *recordLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *recordLog) WithGroup(string) slog.Handler      { return l }

func (l *recordLog) has(sub string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if strings.Contains(m, sub) {
			return true
		}
	}
	return false
}

// TestOwnWaitingKeyIsNotAnotherWaiter: a process that holds 3 permits of
// the cap of 4, all in use, and waits for one more, finds only itself
// waiting: its fair share is the whole cap, and it closes none of its
// connections. Counting its own waiting key as another process's made its
// fair share 2, so that wanting more made it shed what it had.
func TestOwnWaitingKeyIsNotAnotherWaiter(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	const prefix = "/t/fairshare/self/"
	var log recordLog
	a := newBudget(t, cli, fleet.Config{Prefix: prefix, Cap: 4, Batch: 1, IdleReturn: time.Hour})
	b := newBudget(t, cli, fleet.Config{Prefix: prefix, Cap: 4, Batch: 1, IdleReturn: time.Hour, Logger: slog.New(&log)})
	takeN(t, b, 3) // b holds the whole cap: 3 in use, 1 spare
	takeN(t, a, 1) // a waits; b gives back its spare, which a takes
	require.Equal(t, 4, fleetSum(t, cli, prefix))
	require.Eventually(t, func() bool {
		r, err := cli.Get(context.Background(), prefix+"w/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		return err == nil && r.Count == 0
	}, 10*time.Second, time.Millisecond, "a no longer waits")

	before := b.Stats().Refused
	b.Want(1)
	require.Eventually(t, func() bool {
		r, err := cli.Get(context.Background(), prefix+"w/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		return b.Stats().Refused > before && err == nil && r.Count == 1
	}, 10*time.Second, time.Millisecond, "b finds the fleet full and waits")
	// A marker after b's waiting key: once b logs it, b's watch has seen
	// its own waiting key.
	other, err := cli.Grant(context.Background(), 60)
	require.NoError(t, err)
	_, err = cli.Put(context.Background(), prefix+"c/marker", "5", clientv3.WithLease(other.ID))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return log.has("different caps") }, 10*time.Second, time.Millisecond,
		"b's watch sees the marker")
	s := b.Stats()
	assert.Equal(t, 3, s.InUse)
	assert.Zero(t, s.Shed, "b sheds its own connections because it waits for more")
	b.Want(0)
	a.Release()
	for range 3 {
		b.Release()
	}
}
