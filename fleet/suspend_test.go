package fleet

import (
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/idpool/idpool/internal/etcdtest"
	"github.com/idpool/idpool/manager"
)

// wallShifted returns t with its wall-clock reading moved by d and its
// monotonic reading kept. Relative to t, it is what time.Now returns after a
// suspend of d (the monotonic clock stopped, the wall clock ran on), or after
// the wall clock was stepped by d. The time package cannot build such a time:
// Add moves both readings, and Round(0), Unix and the decoders drop the
// monotonic one. So this writes the monotonic reading (time.Time's ext field
// while it has one) back with unsafe, after checking that the field is where
// it expects, and checks the result through the time package's own
// comparisons, so a change of time.Time's layout fails the test rather than
// making it pass for nothing.
func wallShifted(tb testing.TB, t time.Time, d time.Duration) time.Time {
	tb.Helper()
	u, err := shiftWall(t, d)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// shiftWall is wallShifted for a goroutine other than the test's, which must
// not call Fatal.
func shiftWall(t time.Time, d time.Duration) (time.Time, error) {
	ext, ok := reflect.TypeFor[time.Time]().FieldByName("ext")
	if !ok || ext.Type.Kind() != reflect.Int64 {
		return time.Time{}, fmt.Errorf("time.Time has no int64 field ext any more (fields: %v): shiftWall must be rewritten", reflect.VisibleFields(reflect.TypeFor[time.Time]()))
	}
	u := t.Add(d)
	*(*int64)(unsafe.Add(unsafe.Pointer(&u), ext.Offset)) = *(*int64)(unsafe.Add(unsafe.Pointer(&t), ext.Offset))
	if mono, wall := u.Sub(t), u.Round(0).Sub(t.Round(0)); mono != 0 || wall != d {
		return time.Time{}, fmt.Errorf("shiftWall(%v, %v): monotonic difference %v (want 0), wall difference %v (want %v); does t carry a monotonic reading?", t, d, mono, wall, d)
	}
	return u, nil
}

// TestBeforeOnBothClocks checks the rule by which a process counts on its
// lease: only while the monotonic and the wall clock both say its time has
// not come. Comparing the monotonic readings alone (now.Before(validUntil),
// as before) says a lease still holds after a suspend that outlasted it.
func TestBeforeOnBothClocks(t *testing.T) {
	sent := time.Now() // with a monotonic reading
	validUntil := sent.Add(8 * time.Second)
	for _, c := range []struct {
		name string
		now  time.Time
		want bool
	}{
		{"both clocks before", sent.Add(time.Second), true},
		{"both clocks after", sent.Add(9 * time.Second), false},
		{"resumed from a suspend of a minute: monotonic before, wall after", wallShifted(t, sent.Add(time.Second), time.Minute), false},
		{"a suspend shorter than what was left: both before", wallShifted(t, sent.Add(time.Second), 5*time.Second), true},
		{"wall clock stepped forward past validUntil", wallShifted(t, sent.Add(time.Second), time.Hour), false},
		{"wall clock stepped back: the monotonic clock stays in charge, before", wallShifted(t, sent.Add(time.Second), -time.Hour), true},
		{"wall clock stepped back: the monotonic clock stays in charge, after", wallShifted(t, sent.Add(9*time.Second), -time.Hour), false},
		{"no monotonic reading: the wall clock decides, before", sent.Round(0).Add(time.Second), true},
		{"no monotonic reading: the wall clock decides, after", sent.Round(0).Add(9 * time.Second), false},
	} {
		assert.Equal(t, c.want, beforeOnBothClocks(c.now, validUntil), c.name)
	}
}

// bareBudget is a Budget without goroutines or etcd, holding held permits
// under lease 1 until validUntil: TryAcquire and Stats read only its fields
// (and cancel, set as New sets it, to tell it from a Budget not from New).
func bareBudget(held int, validUntil time.Time) *Budget {
	b := &Budget{cfg: Config{Prefix: "/t/", Cap: 10}.withDefaults(), kick: make(chan struct{}, 1), cancel: func() {},
		waiters: make(map[string]bool), holders: make(map[string]bool), caps: make(map[string]int),
		lease: 1, held: held, validUntil: validUntil, capNow: 10}
	b.st.Cap = 10
	return b
}

// TestTryAcquireAfterSuspendOpensNothing gives a budget a lease whose time
// has come by the wall clock, an hour ago, but is an hour away by the
// monotonic one: the process was suspended past it (the monotonic clock
// stopped) and etcd may have handed its permits to others. TryAcquire must
// refuse, Stats must say the lease is not valid, and the connection in use is
// to be shed. Before, all three went by the monotonic clock and the budget
// kept handing out its permits.
func TestTryAcquireAfterSuspendOpensNothing(t *testing.T) {
	b := bareBudget(3, time.Now().Add(time.Hour))
	require.True(t, b.TryAcquire(), "a lease valid by both clocks")
	require.True(t, b.Stats().LeaseValid)

	b.mu.Lock()
	b.validUntil = wallShifted(t, b.validUntil, -2*time.Hour)
	b.mu.Unlock()
	assert.False(t, b.TryAcquire(), "a permit taken on a lease whose time has come by the wall clock")
	s := b.Stats()
	assert.False(t, s.LeaseValid, "LeaseValid")
	assert.Equal(t, 1, s.Shed, "the connection open on the lease is to be closed")
	assert.EqualValues(t, 1, s.Misses)
}

// suspended starts a budget with a TTL of 30s (renewals every 10s by the
// monotonic clock), lets it take 2 permits, and then, once the watch has seen
// its own keys, moves its validUntil and its renewAt back by d by
// the wall clock only: as a suspend of d would look to it on resuming. It
// returns the budget, its Stats from before, and the last Shed signal.
//
// The move is made in the beforeWait hook: with no step in flight (which
// would have read validUntil before the move, and could ask to shed at its
// end), and with no kick pending (whose step would see the move at once, and
// spare the worker from having to notice it by itself). No manager call
// follows (each would wake the worker), so what the worker does next it
// does on its own.
func suspended(t *testing.T, prefix string, d time.Duration) (*Budget, Stats, *atomic.Int64) {
	t.Helper()
	cli := etcdtest.StartClient(t, 1)
	var (
		b              *Budget
		armed, shifted atomic.Bool
	)
	setHook(&beforeWait, func(own *Budget, _ *worker) {
		// b is read only once armed, which the test sets after b; a
		// worker of another test's budget still running calls this too.
		if !armed.Load() || shifted.Load() || own != b {
			return
		}
		b.mu.Lock()
		validUntil, err1 := shiftWall(b.validUntil, -d)
		renewAt, err2 := shiftWall(b.renewAt, -d)
		if err1 == nil && err2 == nil {
			b.validUntil, b.renewAt = validUntil, renewAt
		}
		b.mu.Unlock()
		assert.NoError(t, err1) // not require: this runs on the budget's goroutine
		assert.NoError(t, err2)
		select {
		case <-b.kick:
		default:
		}
		shifted.Store(true)
	})
	b = newHookedBudget(t, cli, Config{Prefix: prefix, Cap: 10, TTL: 30 * time.Second, Batch: 1, IdleReturn: time.Hour},
		func() { beforeWait.Store(nil) })
	shed := new(atomic.Int64)
	b.Subscribe(func(s manager.BudgetSignal) {
		if s.Shed > 0 {
			shed.Store(int64(s.Shed))
		}
	})
	takeEach(t, b, 2, 2)
	b.Want(0)
	first := b.Stats()
	require.True(t, first.LeaseValid)
	name := leaseName(clientv3.LeaseID(first.Lease))
	require.Eventually(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.holders[name] && b.caps[name] > 0
	}, 10*time.Second, time.Millisecond, "the watch sees the budget's own keys")
	armed.Store(true)
	require.Eventually(t, shifted.Load, 3*wallCheck, time.Millisecond, "the worker waits again")
	return b, first, shed
}

// TestWorkerNoticesSuspendWithinWallCheck: after a suspend of an hour, far
// past its lease's TTL, the worker must see within about wallCheck that the
// lease can no longer be counted on, treat it as lost, take a new one, and
// take back the permits of the connections in use: the cap leaves room, so
// none is shed. Before, it went on counting on the lease by the monotonic
// clock, and renewed it 10s later.
func TestWorkerNoticesSuspendWithinWallCheck(t *testing.T) {
	b, first, shed := suspended(t, "/t/suspend/", time.Hour)
	require.Eventually(t, func() bool {
		s := b.Stats()
		return s.Lease != first.Lease && s.LeaseValid && s.Held >= 2
	}, 3*wallCheck, 10*time.Millisecond, "a new lease holding the connections' permits within about wallCheck")
	s := b.Stats()
	assert.EqualValues(t, 1, s.LeaseLosses)
	assert.Equal(t, 2, s.InUse)
	assert.Zero(t, shed.Load(), "connections closed although the cap left room for them")
	b.Release()
	b.Release()
}

// TestWorkerRenewsByWallClockAfterShortSuspend: after a suspend of 15s, less
// than what was left of the lease (24s after its last renewal) but past its
// next renewal by the wall clock, the budget (keepAlive) must renew within about
// wallCheck, keeping its lease, rather than when its monotonic timer fires
// (10s after the last renewal by that clock), by when the lease would have
// lapsed by the wall clock.
func TestWorkerRenewsByWallClockAfterShortSuspend(t *testing.T) {
	b, first, shed := suspended(t, "/t/shortsuspend/", 15*time.Second)
	require.Eventually(t, func() bool { return b.Stats().Renewals > first.Renewals }, 3*wallCheck, 10*time.Millisecond,
		"a renewal within about wallCheck")
	s := b.Stats()
	assert.Equal(t, first.Lease, s.Lease)
	assert.True(t, s.LeaseValid)
	assert.Zero(t, s.LeaseLosses)
	assert.Zero(t, shed.Load())
	b.Release()
	b.Release()
}
