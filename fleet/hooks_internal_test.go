package fleet

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idpool/idpool/internal/etcdtest"
	"github.com/idpool/idpool/manager"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// newHookedBudget starts a budget on cli for a test that sets one of the
// package's hooks (afterKeysRead, beforeTake, beforeGiveBack). At cleanup it
// closes the budget first and only then calls undo to reset the hook. Close
// waits at most TTL/3 for the goroutines the hook runs on, so a hook may
// still be called by them afterwards, or by the next test's hook: hooks are
// read atomically, and one that acts on a budget checks it is its own.
func newHookedBudget(t *testing.T, cli *clientv3.Client, cfg Config, undo func()) *Budget {
	t.Helper()
	cfg.Client = cli
	b, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = b.Close(ctx)
		undo()
	})
	return b
}

// setHook sets one of the package's hooks (see hooks.go) to f.
func setHook[F any](h *atomic.Pointer[F], f F) { h.Store(&f) }

// takeEach asks b for want permits and takes n of them.
func takeEach(t *testing.T, b *Budget, want, n int) {
	t.Helper()
	b.Want(want)
	for range n {
		require.Eventually(t, b.TryAcquire, 10*time.Second, time.Millisecond)
	}
}

// holderSum reads the fleet's sum of holder counts straight from etcd.
func holderSum(t *testing.T, cli *clientv3.Client, prefix string) int {
	t.Helper()
	r, err := cli.Get(context.Background(), prefix+"h/", clientv3.WithPrefix())
	require.NoError(t, err)
	sum := 0
	for _, kv := range r.Kvs {
		n, err := parseHolderCount(kv.Value)
		require.NoError(t, err)
		sum += n
	}
	return sum
}

// TestNoSignalAfterClose: a signal sent after Close, as by a lapse timer
// that fired just before it, reaches no subscriber.
func TestNoSignalAfterClose(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	b, err := New(Config{Client: cli, Prefix: "/t/nosignal/", Cap: 1})
	require.NoError(t, err)
	var got atomic.Int32
	b.Subscribe(func(manager.BudgetSignal) { got.Add(1) })
	b.signal(manager.BudgetSignal{Shed: 1})
	require.EqualValues(t, 1, got.Load(), "a signal before Close is delivered")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, b.Close(ctx))
	before := got.Load()
	b.signal(manager.BudgetSignal{Shed: 1})
	require.Equal(t, before, got.Load(), "a signal after Close reaches no one")
}
