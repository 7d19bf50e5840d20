package fleet_test

import (
	"bytes"
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

// A holder key whose value is not a count stops every fetch. A negative
// count, written by some other program under the budget's prefix, would
// lower the fleet's sum and let the processes pass the cap together: the
// budget takes nothing while it stays, logs it once naming the key, and
// counts each failed read; once the value is a count again, it takes what
// the cap leaves.
func TestHolderKeyThatIsNotACountFailsClosed(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cli, err := c.Client()
	require.NoError(t, err)
	defer cli.Close()
	ctx := context.Background()
	const prefix = "/t/badholder/"
	const key = prefix + "h/intruder"
	other, err := cli.Grant(ctx, 60)
	require.NoError(t, err)
	_, err = cli.Put(ctx, key, "-5", clientv3.WithLease(other.ID))
	require.NoError(t, err)

	var logs lockedBuffer
	b := newBudget(t, cli, fleet.Config{Prefix: prefix, Cap: 2, Batch: 1, IdleReturn: time.Hour,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	b.Want(1)
	require.Eventually(t, func() bool { return b.Stats().EtcdErrors >= 2 }, 10*time.Second, time.Millisecond,
		"reads fail again and again while the key stays")
	assert.False(t, b.TryAcquire(), "a permit taken against an unknown sum")
	assert.Zero(t, b.Stats().Held)
	assert.Equal(t, 1, strings.Count(logs.String(), "level=WARN"), "logged once, not at every retry:\n%s", logs.String())
	assert.Contains(t, logs.String(), "key="+key)
	assert.Contains(t, logs.String(), `holder count \"-5\" is not a count of permits`)

	_, err = cli.Put(ctx, key, "1", clientv3.WithLease(other.ID))
	require.NoError(t, err)
	require.Eventually(t, b.TryAcquire, 10*time.Second, time.Millisecond, "the cap leaves 1 once the count is readable")
	assert.Equal(t, 2, fleetSum(t, cli, prefix))
	b.Release()
}

// lockedBuffer is a log destination the budget's goroutines and the test
// share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
