package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idpool/idpool/actors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewRejectsInvalidConfigNamingEveryField(t *testing.T) {
	_, err := New(Config{Server: "host;password=hunter2", MaxSize: -1, MinSize: -2, MaxWaiters: -1, DialTimeout: -time.Second})
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	for _, field := range []string{"Server", "Dialer", "MaxSize", "MinSize", "MaxWaiters", "DialTimeout"} {
		assert.Contains(t, err.Error(), field+":")
	}
	assert.NotContains(t, err.Error(), "hunter2", "a DSN passed as Server is not echoed")

	noDial := DialerFunc(func(context.Context, actors.DialRequest) (driver.Conn, error) { return nil, errBad })
	_, err = New(Config{Server: "s", Dialer: noDial, MaxSize: 2, MinSize: 3, MaxLifetime: time.Minute, LifetimeJitter: time.Hour})
	require.ErrorAs(t, err, &ce)
	assert.Len(t, ce.Problems, 2)
	assert.Contains(t, err.Error(), "MinSize")
	assert.Contains(t, err.Error(), "LifetimeJitter")
}

func TestStartsWithMinSizeAndGrowsLazilyToMaxSize(t *testing.T) {
	m, db := newManager(t, Config{MinSize: 2, MaxSize: 4})
	l := acquire(t, m, sqlLogin)
	eventually(t, func() bool { return db.Opened() == 2 }, "MinSize opened on start")
	l2 := acquire(t, m, sqlLogin)
	assert.Equal(t, 2, db.Opened(), "second acquire reuses the MinSize connection")
	l3 := acquire(t, m, sqlLogin)
	assert.Equal(t, 3, db.Opened(), "grows one at a time")
	for _, x := range []*Lease{l, l2, l3} {
		x.Release(nil)
	}
}

func TestReuseIsLIFO(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 3, HealthCheckAfter: -1})
	a, b := acquire(t, m, sqlLogin), acquire(t, m, sqlLogin)
	ida, idb := connID(a), connID(b)
	a.Release(nil)
	b.Release(nil)
	c := acquire(t, m, sqlLogin)
	assert.Equal(t, idb, connID(c))
	d := acquire(t, m, sqlLogin)
	assert.Equal(t, ida, connID(d))
	c.Release(nil)
	d.Release(nil)
}

func TestAcquireTimesOutWhenFull(t *testing.T) {
	m, _ := newManager(t, Config{Server: "sql.example:1433/app", MaxSize: 1, AcquireTimeout: 50 * time.Millisecond})
	held := acquire(t, m, identity("alice"))
	defer held.Release(nil)
	_, err := m.Acquire(context.Background(), identity("alice"))
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrAcquireTimeout)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	msg := err.Error()
	assert.Contains(t, msg, "sql.example:1433/app")
	assert.Contains(t, msg, "max size 1")
	assert.Contains(t, msg, "0 waiting")
	assert.NotContains(t, msg, "alice", "identity printed as a hash")
	assert.NotContains(t, msg, "token-of-alice")
	assert.EqualValues(t, 1, m.Stats().Total.Timeouts)
}

func TestPerAcquireDeadlineOverridesTheDefault(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1, AcquireTimeout: time.Hour})
	held := acquire(t, m, sqlLogin)
	defer held.Release(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := m.Acquire(ctx, sqlLogin)
	assert.ErrorIs(t, err, ErrAcquireTimeout)

	ctx, cancel2 := context.WithCancel(context.Background())
	cancel2()
	_, err = m.Acquire(ctx, sqlLogin)
	assert.ErrorIs(t, err, context.Canceled, "a cancelled ctx is a cancellation, not a timeout")
	assert.NotErrorIs(t, err, ErrAcquireTimeout)
}

func TestReleaseUnblocksTheOldestWaiter(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1})
	held := acquire(t, m, sqlLogin)
	const n = 5
	order := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := acquire(t, m, sqlLogin)
			order <- i
			l.Release(nil)
		}()
		// Each waiter queues before the next starts.
		eventually(t, func() bool { return m.Stats().Total.Waiters == i+1 }, "waiter %d queued", i)
	}
	held.Release(nil)
	wg.Wait()
	close(order)
	var got []int
	for i := range order {
		got = append(got, i)
	}
	assert.Equal(t, []int{0, 1, 2, 3, 4}, got)
}

func TestBrokenReleaseEvictsAndFreesTheSlot(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 1})
	l := acquire(t, m, sqlLogin)
	first := connID(l)
	l.Release(io.ErrUnexpectedEOF)
	l2 := acquire(t, m, sqlLogin)
	assert.NotEqual(t, first, connID(l2), "a broken connection is not reused")
	eventually(t, func() bool { info, _ := db.Conn(first); return info.Closed }, "broken connection closed")
	l2.Release(nil)
	assert.EqualValues(t, 1, m.Stats().Total.Closes["broken"])
}

func TestApplicationErrorKeepsTheConnection(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1})
	l := acquire(t, m, sqlLogin)
	first := connID(l)
	_, err := l.Conn().QueryContext(context.Background(), "NOT A STATEMENT", nil)
	require.Error(t, err)
	l.Release(err)
	l2 := acquire(t, m, sqlLogin)
	assert.Equal(t, first, connID(l2))
	l2.Release(nil)
}

func TestCancelledOperationBreaksTheConnection(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1})
	l := acquire(t, m, sqlLogin)
	first := connID(l)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := l.Conn().ExecContext(ctx, "SLEEP 5s", nil)
	require.Error(t, err)
	l.Release(nil) // even without passing the error on, the lease knows
	l2 := acquire(t, m, sqlLogin)
	assert.NotEqual(t, first, connID(l2))
	l2.Release(nil)
}

func TestDeadIdleConnectionIsReplacedSilently(t *testing.T) {
	clock := &skewClock{}
	m, db := newManager(t, Config{MaxSize: 2, HealthCheckAfter: time.Minute, Clock: clock})
	l := acquire(t, m, sqlLogin)
	dead := connID(l)
	l.Release(nil)
	// Release is a message: let the pool park the connection (and note when)
	// before the clock moves, or it would count as idle from the later time.
	eventually(t, func() bool { return m.Stats().Total.Idle == 1 }, "the release parked the connection")
	db.Kill(dead)
	clock.Advance(time.Minute) // idle long enough to be checked before reuse
	l2 := acquire(t, m, sqlLogin)
	assert.NotEqual(t, dead, connID(l2), "caller got a good connection")
	rows := query(t, l2, "SELECT 1")
	require.NoError(t, rows.Close())
	l2.Release(nil)
	assert.EqualValues(t, 1, m.Stats().Total.Closes["failed_health_check"])
}

func TestUncommittedWorkIsRolledBackOnRelease(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 1})
	l := acquire(t, m, sqlLogin)
	tx, err := l.Conn().BeginTx(context.Background(), driverTxOptions())
	require.NoError(t, err)
	_, err = l.Conn().ExecContext(context.Background(), "INSERT t", nil)
	require.NoError(t, err)
	_ = tx
	l.Release(nil) // abandoned
	l2 := acquire(t, m, sqlLogin)
	rows := query(t, l2, "SELECT COUNT t")
	assert.Equal(t, int64(0), firstInt(t, rows))
	tx2, err := l2.Conn().BeginTx(context.Background(), driverTxOptions())
	require.NoError(t, err)
	_, err = l2.Conn().ExecContext(context.Background(), "INSERT t", nil)
	require.NoError(t, err)
	require.NoError(t, tx2.Commit())
	l2.Release(nil)
	assert.Equal(t, 1, db.CommittedRows("t"))
}

func TestCloseDrainsIdleAndRejectsAcquires(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 2})
	a, b := acquire(t, m, sqlLogin), acquire(t, m, sqlLogin)
	b.Release(nil)
	closed := make(chan error, 1)
	go func() { closed <- m.Close(context.Background()) }()
	eventually(t, func() bool { return db.OpenNow() == 1 }, "idle closed at once")
	_, err := m.Acquire(context.Background(), sqlLogin)
	assert.ErrorIs(t, err, ErrClosed)
	select {
	case <-closed:
		t.Fatal("Close returned while a lease was out")
	case <-time.After(20 * time.Millisecond):
	}
	a.Release(nil)
	require.NoError(t, <-closed)
	assert.Zero(t, db.OpenNow())
	require.NoError(t, m.Close(context.Background()), "Close is idempotent")
}

func TestCloseFailsQueuedWaiters(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1})
	held := acquire(t, m, sqlLogin)
	errc := make(chan error)
	go func() {
		_, err := m.Acquire(context.Background(), sqlLogin)
		errc <- err
	}()
	eventually(t, func() bool { return m.Stats().Total.Waiters == 1 }, "waiter queued")
	go func() { _ = m.Close(context.Background()) }()
	assert.ErrorIs(t, <-errc, ErrClosed)
	held.Release(nil)
}

func TestCloseWaitsForLeasesThenForcesAndSaysHowMany(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 3})
	a, b, c := acquire(t, m, sqlLogin), acquire(t, m, sqlLogin), acquire(t, m, sqlLogin)
	// A queued acquire fails with ErrClosed once Close has begun: the signal
	// to give a back while Close waits. Close's ctx ends once a's connection
	// is closed, so no timing decides which leases come back in time.
	probe := make(chan error, 1)
	go func() {
		_, err := m.Acquire(context.Background(), sqlLogin)
		probe <- err
	}()
	eventually(t, func() bool { return m.Stats().Total.Waiters == 1 }, "probe queued")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		if errors.Is(<-probe, ErrClosed) {
			a.Release(nil) // comes back in time
			_ = db.Await(context.Background(), func() bool { return db.OpenNow() == 2 })
		}
		cancel()
	}()
	err := m.Close(ctx)
	var fe *ForcedCloseError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, 2, fe.Forced)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, db.OpenNow(), "forced connections are closed")
	b.Release(nil) // late releases are harmless
	c.Release(errors.New("x"))
}

func TestMaxWaitersShedsLoad(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1, MaxWaiters: 1})
	held := acquire(t, m, sqlLogin)
	go func() {
		l, err := m.Acquire(context.Background(), sqlLogin)
		if err == nil {
			l.Release(nil)
		}
	}()
	eventually(t, func() bool { return m.Stats().Total.Waiters == 1 }, "one waiter queued")
	_, err := m.Acquire(context.Background(), sqlLogin)
	assert.ErrorIs(t, err, ErrPoolExhausted)
	held.Release(nil)
}

func TestFailedDialReachesTheCallerWithItsCause(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 2, DialBackoff: -1})
	cause := errors.New("server says no")
	db.FailDials(1, cause)
	_, err := m.Acquire(context.Background(), sqlLogin)
	require.ErrorIs(t, err, cause)
	var de *DialError
	require.ErrorAs(t, err, &de)
	l := acquire(t, m, sqlLogin)
	l.Release(nil)
	s := m.Stats().Total
	assert.EqualValues(t, 1, s.DialFailures)
	assert.LessOrEqual(t, s.Open, 2)
}

func TestDialerPanicIsAnErrorAndThePoolKeepsWorking(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 2})
	held := acquire(t, m, sqlLogin)
	db.PanicDials(1)
	_, err := m.Acquire(context.Background(), sqlLogin)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "panicked")
	l := acquire(t, m, sqlLogin)
	assert.Equal(t, 2, m.Stats().Total.Busy, "the held lease and its pool state survived")
	l.Release(nil)
	held.Release(nil)
}

func TestIdentitiesNeverShareAConnection(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 2})
	names := []string{"alice", "bob", "carol"}
	var wg sync.WaitGroup
	for g := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				name := names[(g+i)%len(names)]
				l := acquire(t, m, identity(name))
				rows := query(t, l, "SELECT IDENTITY")
				got := firstString(t, rows)
				l.Release(nil)
				if got != "test:"+name {
					t.Errorf("identity %s got a connection of %s", name, got)
					return
				}
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 3, m.Stats().Pools)
	for _, c := range db.Conns() {
		assert.True(t, strings.HasPrefix(c.Identity, "test:"))
	}
}

func TestDialFailuresBlockThenRecover(t *testing.T) {
	m, db := newManager(t, Config{MaxSize: 2, DialBackoff: 50 * time.Millisecond, DialBackoffMax: 50 * time.Millisecond})
	cause := errors.New("login refused")
	db.FailDials(-1, cause)
	for range 2 { // two failures in a row start the blocking period
		_, err := m.Acquire(context.Background(), sqlLogin)
		require.ErrorIs(t, err, cause)
	}
	var err error
	dialsBefore := db.Dials()
	for range 20 {
		_, err = m.Acquire(context.Background(), sqlLogin)
		var be *BlockedError
		require.ErrorAs(t, err, &be, "fails fast during the blocking period")
		assert.ErrorIs(t, err, cause)
	}
	assert.Equal(t, dialsBefore, db.Dials(), "the server is not hammered")
	db.FailDials(0, nil)
	eventually(t, func() bool {
		l, err := m.Acquire(context.Background(), sqlLogin)
		if err != nil {
			return false
		}
		l.Release(nil)
		return true
	}, "recovers after the blocking period")
	assert.Positive(t, m.Stats().Total.BlockedFails)
}
