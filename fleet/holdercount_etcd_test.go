package fleet_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/idpool/idpool/fleet"
	"github.com/idpool/idpool/internal/etcdtest"
	"github.com/idpool/idpool/internal/syncbuf"
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
	cli := etcdtest.StartClient(t, 1)
	ctx := context.Background()
	const prefix = "/t/badholder/"
	const key = prefix + "h/intruder"
	other, err := cli.Grant(ctx, 60)
	require.NoError(t, err)
	_, err = cli.Put(ctx, key, "-5", clientv3.WithLease(other.ID))
	require.NoError(t, err)

	var logs syncbuf.Buffer
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

// Keys of another budget whose prefix lies under this one's count for that
// budget only: its holders' permits do not count against this cap, and its
// waiting processes do not halve this budget's fair share; nor does a key of
// neither kind.
func TestNestedBudgetsKeysDoNotCountHere(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	ctx := context.Background()
	other, err := cli.Grant(ctx, 60)
	require.NoError(t, err)
	for name, nested := range map[string]struct{ prefix, key, value string }{
		// Prefix "/t/nest1/h/" is another budget's: its holder keys lie
		// under this one's holders.
		"holders": {"/t/nest1/", "/t/nest1/h/h/abc", "3"},
		"waiting": {"/t/nest2/", "/t/nest2/inner/w/abc", "1"},
		// Some other program's key, one level down: neither kind.
		"other": {"/t/nest3/", "/t/nest3/x/abc", "1"},
	} {
		_, err = cli.Put(ctx, nested.key, nested.value, clientv3.WithLease(other.ID))
		require.NoError(t, err)
		b := newBudget(t, cli, fleet.Config{Prefix: nested.prefix, Cap: 4, Batch: 1, IdleReturn: time.Hour})
		takeN(t, b, 4) // all of the cap, as if the nested key were not there
		assert.Equal(t, 4, b.Stats().Held, name)
		for range 4 {
			b.Release()
		}
	}
}
