package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/internal/syncbuf"
	"github.com/idpool/idpool/tokens"
)

// stuckDialer opens connections whose "stuck" calls ignore their ctx, as
// go-mssqldb's do while it waits for a silent server to confirm a cancel:
// they return only once their transport is cut (AbortTransport) or the
// test lets them go.
type stuckDialer struct {
	mu     sync.Mutex
	conns  []*stuckConn
	aborts atomic.Int32
	closes atomic.Int32
	panics bool
	// stuckPings makes every Ping stuck too, as a health check on a
	// silent server is.
	stuckPings atomic.Bool
	// panicRowsClose makes every result set's Close panic.
	panicRowsClose atomic.Bool
	// stuckRowsClose makes every result set's Close stuck, as go-mssqldb's
	// is while it waits for a silent server to confirm its cancel, until
	// its transport is cut or rowsFree (set before the first Dial) closes.
	stuckRowsClose atomic.Bool
	rowsFree       chan struct{}
	// rowsCloses counts the result sets' Closes that reached the driver;
	// closedUnderRows the connections closed with a result set still open,
	// which database/sql's contract forbids (see closeLeftRows).
	rowsCloses, closedUnderRows atomic.Int32
	// closedUnderCall counts the connections closed while a stuck call
	// was still inside them (see stuckConn.wait).
	closedUnderCall atomic.Int32
}

func (d *stuckDialer) Dial(context.Context, actors.DialRequest) (driver.Conn, error) {
	c := &stuckConn{d: d, cut: make(chan struct{}), free: make(chan struct{}), entered: make(chan struct{}, 8)}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.conns = append(d.conns, c)
	return c, nil
}

func (d *stuckDialer) AbortTransport(conn driver.Conn) bool {
	d.aborts.Add(1)
	if d.panics {
		panic("aborter panicked")
	}
	c := conn.(*stuckConn)
	c.cutOnce.Do(func() { close(c.cut) })
	return true
}

var errTransportCut = errors.New("stuckConn: transport cut")

type stuckConn struct {
	d         *stuckDialer
	cut, free chan struct{}
	cutOnce   sync.Once
	freeOnce  sync.Once
	entered   chan struct{}
	// open counts the result sets open on the connection.
	open atomic.Int32
	// cutBeforeClose: its transport had been cut when it was closed.
	cutBeforeClose atomic.Bool
	// inside counts the stuck calls inside the connection.
	inside atomic.Int32
}

// awaitEntered waits for a call to be stuck in c, failing the test if
// none is.
func (c *stuckConn) awaitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-c.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no call became stuck on the connection")
	}
}

// let lets the stuck call return (no error), as a server answering late.
func (c *stuckConn) let() { c.freeOnce.Do(func() { close(c.free) }) }

// wait blocks as a stuck call does.
func (c *stuckConn) wait() error {
	c.inside.Add(1)
	defer c.inside.Add(-1)
	c.entered <- struct{}{}
	select {
	case <-c.cut:
		return errTransportCut
	case <-c.free:
		return nil
	}
}

func (c *stuckConn) ExecContext(_ context.Context, q string, _ []driver.NamedValue) (driver.Result, error) {
	switch q {
	case "stuck":
		if err := c.wait(); err != nil {
			return nil, err
		}
	case "panic":
		panic("driver panicked")
	}
	return driver.RowsAffected(0), nil
}

func (c *stuckConn) QueryContext(_ context.Context, q string, _ []driver.NamedValue) (driver.Rows, error) {
	if q == "panic" {
		panic("driver panicked")
	}
	c.open.Add(1)
	return &stuckRows{c: c}, nil
}

func (c *stuckConn) Ping(context.Context) error {
	if c.d.stuckPings.Load() {
		return c.wait()
	}
	return nil
}

func (c *stuckConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("not supported") }
func (c *stuckConn) Close() error {
	if c.open.Load() != 0 {
		c.d.closedUnderRows.Add(1)
	}
	if c.inside.Load() != 0 {
		c.d.closedUnderCall.Add(1)
	}
	select {
	case <-c.cut:
		c.cutBeforeClose.Store(true)
	default:
	}
	c.d.closes.Add(1)
	return nil
}
func (c *stuckConn) Begin() (driver.Tx, error) { return stuckTx{c}, nil }

// stuckTx's Rollback is stuck, as one sent to a server that stopped
// answering; its Commit is not.
type stuckTx struct{ c *stuckConn }

func (stuckTx) Commit() error     { return nil }
func (t stuckTx) Rollback() error { return t.c.wait() }

// stuckRows has one row; reading past it is stuck (the rest of the reply
// never comes).
type stuckRows struct {
	c    *stuckConn
	read bool
}

func (r *stuckRows) Columns() []string { return []string{"n"} }
func (r *stuckRows) Close() error {
	r.c.d.rowsCloses.Add(1)
	defer r.c.open.Add(-1)
	if r.c.d.panicRowsClose.Load() {
		panic("rows Close panicked")
	}
	if r.c.d.stuckRowsClose.Load() {
		r.c.entered <- struct{}{}
		select {
		case <-r.c.cut:
			return errTransportCut
		case <-r.c.d.rowsFree:
			return nil
		}
	}
	return nil
}
func (r *stuckRows) Next(dest []driver.Value) error {
	if !r.read {
		r.read = true
		dest[0] = int64(1)
		return nil
	}
	if err := r.c.wait(); err != nil {
		return err
	}
	return io.EOF
}

// graceClock is a manual clock that reports each timer of the grace's
// length as it is armed (begun: the test advances time only once the grace
// has begun) and as it is stopped (stopped).
type graceClock struct {
	*manualClock
	grace   time.Duration
	begun   chan struct{}
	stopped chan struct{}
}

const testGrace = 1234 * time.Millisecond

func newGraceClock() *graceClock {
	return &graceClock{manualClock: newManualClock(), grace: testGrace,
		begun: make(chan struct{}, 8), stopped: make(chan struct{}, 8)}
}

func (c *graceClock) AfterFunc(d time.Duration, f func()) actors.Timer {
	t := c.manualClock.AfterFunc(d, f)
	if d != c.grace {
		return t
	}
	c.begun <- struct{}{}
	return graceTimer{Timer: t, stopped: c.stopped}
}

// graceTimer is a grace's timer that reports its Stop.
type graceTimer struct {
	actors.Timer
	stopped chan struct{}
}

func (t graceTimer) Stop() bool {
	was := t.Timer.Stop()
	select {
	case t.stopped <- struct{}{}:
	default: // nobody waits for so many
	}
	return was
}

// awaitGraceStop waits for a grace's timer to be stopped, failing the test
// if none is.
func (c *graceClock) awaitGraceStop(t *testing.T) {
	t.Helper()
	select {
	case <-c.stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("no CancelGrace timer was stopped")
	}
}

// awaitGrace waits for a grace to begin, failing the test if none does.
func (c *graceClock) awaitGrace(t *testing.T) {
	t.Helper()
	select {
	case <-c.begun:
	case <-time.After(10 * time.Second):
		t.Fatal("no CancelGrace began after the ctx ended")
	}
}

func newStuckManager(t *testing.T, d *stuckDialer, clock Clock, grace time.Duration, log ...*slog.Logger) *Manager {
	t.Helper()
	cfg := Config{Server: "stuck:1/db", Dialer: d, Clock: clock, CancelGrace: grace, HealthCheckAfter: -1, MaxSize: 1}
	if len(log) > 0 {
		cfg.Logger = log[0]
	}
	return startManager(t, cfg)
}

// startManager starts a Manager on cfg and closes it when the test ends.
func startManager(t *testing.T, cfg Config) *Manager {
	t.Helper()
	m, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = m.Close(ctx)
	})
	return m
}

// awaitCloses waits until n of d's connections have been closed (off the
// pool's mailbox), failing the test after 10 s.
func awaitCloses(t *testing.T, d *stuckDialer, n int32) {
	t.Helper()
	require.Eventually(t, func() bool { return d.closes.Load() == n }, 10*time.Second, time.Millisecond,
		"connections closed: %d, want %d", d.closes.Load(), n)
}

func leaseOf(t *testing.T, m *Manager) (*Lease, *stuckConn) {
	t.Helper()
	l, err := m.Acquire(context.Background(), tokens.SQLLogin())
	require.NoError(t, err)
	return l, l.Raw().(*stuckConn)
}

// stuckExec starts a stuck call under ctx and returns its result channel,
// once the call is inside the driver.
func stuckExec(t *testing.T, ctx context.Context, l *Lease, c *stuckConn) <-chan error {
	t.Helper()
	got := make(chan error, 1)
	go func() {
		_, err := l.Conn().ExecContext(ctx, "stuck", nil)
		got <- err
	}()
	c.awaitEntered(t)
	return got
}

// awaitCut returns the result of a stuck call that CancelGrace's cut
// should have ended, failing the test when the call has not returned
// within 10 s: a cut that never came then fails its test, instead of
// hanging the test binary until its timeout. The Manager's forced Close
// (startManager's cleanup) cuts the call for good.
func awaitCut(t *testing.T, got <-chan error) error {
	t.Helper()
	select {
	case err := <-got:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the stuck call was not cut once CancelGrace had passed")
		return nil
	}
}

func TestACallStuckPastItsCtxIsCutOnceCancelGraceHasPassed(t *testing.T) {
	d, clock := &stuckDialer{}, newGraceClock()
	var buf syncbuf.Buffer
	m := newStuckManager(t, d, clock, testGrace, slog.New(slog.NewJSONHandler(&buf, nil)))
	l, c := leaseOf(t, m)
	ctx, cancel := context.WithCancel(context.Background())
	got := stuckExec(t, ctx, l, c)

	cancel()
	clock.awaitGrace(t)
	clock.advance(testGrace - time.Nanosecond)
	assert.Zero(t, d.aborts.Load(), "cut before CancelGrace had passed")
	clock.advance(time.Nanosecond)
	require.ErrorIs(t, awaitCut(t, got), errTransportCut, "the stuck call returns once its transport is cut")
	assert.EqualValues(t, 1, d.aborts.Load())
	line := logLines(t, &buf)["idpool: a call outlived its ctx by CancelGrace; cutting its connection"]
	require.NotNil(t, line, "the cut is logged as docs/OPERATIONS.md says")
	assert.Equal(t, "WARN", line["level"])
	assert.Equal(t, l.Key().Redacted(), line["pool"])
	assert.Contains(t, line, "conn")
	assert.EqualValues(t, testGrace, line["cancel_grace"], "JSON writes a duration in nanoseconds")

	l.Release(nil) // even a caller that saw no error cannot keep a cut connection
	awaitCloses(t, d, 1)
	l2, c2 := leaseOf(t, m)
	defer l2.Release(nil)
	assert.NotSame(t, c, c2, "a cut connection never serves another lease")
}

func TestACallThatReturnsWithinCancelGraceIsNotCut(t *testing.T) {
	d, clock := &stuckDialer{}, newGraceClock()
	m := newStuckManager(t, d, clock, testGrace)
	l, c := leaseOf(t, m)
	ctx, cancel := context.WithCancel(context.Background())
	got := stuckExec(t, ctx, l, c)

	cancel()
	clock.awaitGrace(t)
	c.let() // the server answered the cancel in time
	require.NoError(t, <-got)
	clock.advance(time.Hour)
	assert.Zero(t, d.aborts.Load(), "a call that had returned was cut")
	l.Release(nil)
}

func TestAResultSetStuckPastItsQuerysCtxIsCut(t *testing.T) {
	d, clock := &stuckDialer{}, newGraceClock()
	m := newStuckManager(t, d, clock, testGrace)
	l, c := leaseOf(t, m)
	ctx, cancel := context.WithCancel(context.Background())
	rows, err := l.Conn().QueryContext(ctx, "SELECT n", nil)
	require.NoError(t, err)
	dest := make([]driver.Value, 1)
	require.NoError(t, rows.Next(dest), "the first row is there")
	got := make(chan error, 1)
	go func() { got <- rows.Next(dest) }()
	c.awaitEntered(t)

	cancel()
	clock.awaitGrace(t)
	clock.advance(testGrace)
	require.ErrorIs(t, awaitCut(t, got), errTransportCut)
	require.NoError(t, rows.Close())
	l.Release(nil)
	awaitCloses(t, d, 1)
}

func TestAClosedResultSetStopsItsWatch(t *testing.T) {
	d, clock := &stuckDialer{}, newGraceClock()
	m := newStuckManager(t, d, clock, testGrace)
	l, _ := leaseOf(t, m)
	ctx, cancel := context.WithCancel(context.Background())
	rows, err := l.Conn().QueryContext(ctx, "SELECT n", nil)
	require.NoError(t, err)
	require.NoError(t, rows.Close())
	cancel()
	// A watch left behind would ask for its grace from the goroutine
	// context.AfterFunc starts once the ctx ends: give it time to.
	select {
	case <-clock.begun:
		t.Error("a grace began for a query whose result set had closed")
	case <-time.After(500 * time.Millisecond):
	}
	clock.advance(time.Hour)
	assert.Zero(t, d.aborts.Load(), "a closed result set's query was cut")
	l.Release(nil)
}

// A call whose driver panics leaves no watch behind: its ctx ending later
// must not cut the connection, which the lease may still be using.
func TestACallThatPanicsLeavesNoWatch(t *testing.T) {
	d, clock := &stuckDialer{}, newGraceClock()
	m := newStuckManager(t, d, clock, testGrace)
	l, _ := leaseOf(t, m)
	ctx, cancel := context.WithCancel(context.Background())
	for _, call := range []func(){
		func() { _, _ = l.Conn().QueryContext(ctx, "panic", nil) },
		func() { _, _ = l.Conn().ExecContext(ctx, "panic", nil) },
	} {
		func() {
			defer func() { assert.NotNil(t, recover(), "the driver's panic goes on") }()
			call()
		}()
	}
	cancel()
	// A watch left behind would ask for its grace from the goroutine
	// context.AfterFunc starts once the ctx ends: give it time to.
	select {
	case <-clock.begun:
		t.Error("a grace began for a call that had panicked")
	case <-time.After(500 * time.Millisecond):
	}
	clock.advance(time.Hour)
	assert.Zero(t, d.aborts.Load())
	l.Release(nil)
}

// noGraceBegins fails the test if a grace begins within the time the
// goroutine context.AfterFunc starts once a ctx ends needs to ask for one.
func (c *graceClock) noGraceBegins(t *testing.T, why string) {
	t.Helper()
	select {
	case <-c.begun:
		t.Error("a grace began: " + why)
	case <-time.After(500 * time.Millisecond):
	}
}

// A result set's watch lasts only as long as each of its calls: one whose
// Close panicked leaves none behind. Here the lease was released and its
// connection went to another lease before the query's ctx ended; a watch
// left behind would cut that lease's connection.
func TestAResultSetWhoseClosePanickedLeavesNoWatch(t *testing.T) {
	d, clock := &stuckDialer{}, newGraceClock()
	m := newStuckManager(t, d, clock, testGrace)
	l, c := leaseOf(t, m)
	ctx, cancel := context.WithCancel(context.Background())
	rows, err := l.Conn().QueryContext(ctx, "SELECT n", nil)
	require.NoError(t, err)
	d.panicRowsClose.Store(true)
	assert.Panics(t, func() { _ = rows.Close() })
	l.Release(nil)
	l2, c2 := leaseOf(t, m)
	require.Same(t, c, c2, "the connection serves the next lease")
	cancel()
	clock.noGraceBegins(t, "for a result set whose Close had returned, by panicking")
	clock.advance(time.Hour)
	assert.Zero(t, d.aborts.Load(), "another lease's connection was cut")
	l2.Release(nil)
}

// A result set left open does not bound the lease's later calls by its
// query's ctx: a call made with a ctx that never ends is never cut.
func TestAResultSetLeftOpenDoesNotCutALaterCall(t *testing.T) {
	d, clock := &stuckDialer{}, newGraceClock()
	m := newStuckManager(t, d, clock, testGrace)
	l, c := leaseOf(t, m)
	qctx, cancel := context.WithCancel(context.Background())
	_, err := l.Conn().QueryContext(qctx, "SELECT n", nil)
	require.NoError(t, err)
	cancel() // a per-query timeout's defer cancel(), the result set not closed
	got := stuckExec(t, context.Background(), l, c)
	clock.awaitGrace(t) // the result set's: it still holds its query's watch
	clock.advance(time.Hour)
	assert.Zero(t, d.aborts.Load(), "a call under a live ctx was cut")
	c.let()
	require.NoError(t, <-got, "the call ran to its end")
	l.Release(nil)
}

// lateCall is a lease's result set whose query's ctx ended and whose grace
// passed with no call in flight (nothing was cut), and a Next on it begun
// after that, now inside the stuck driver: a late call, watched on its own.
type lateCall struct {
	d     *stuckDialer
	clock *graceClock
	m     *Manager
	l     *Lease
	c     *stuckConn
	rows  driver.Rows
	got   chan error // the late Next's result
}

func startLateCall(t *testing.T) lateCall {
	t.Helper()
	lc := lateCall{d: &stuckDialer{}, clock: newGraceClock(), got: make(chan error, 1)}
	lc.m = newStuckManager(t, lc.d, lc.clock, testGrace)
	lc.l, lc.c = leaseOf(t, lc.m)
	ctx, cancel := context.WithCancel(context.Background())
	rows, err := lc.l.Conn().QueryContext(ctx, "SELECT n", nil)
	require.NoError(t, err)
	lc.rows = rows
	dest := make([]driver.Value, 1)
	require.NoError(t, rows.Next(dest))
	cancel()
	lc.clock.awaitGrace(t)
	lc.clock.advance(testGrace) // no call in flight: nothing to cut
	require.Zero(t, lc.d.aborts.Load())

	go func() { lc.got <- rows.Next(dest) }()
	lc.c.awaitEntered(t)
	return lc
}

// A result set's call begun once its query's ctx ended and the grace
// passed with no call in flight is bounded all the same: on its own, grace
// after it began.
func TestAResultSetCallBegunAfterTheGraceIsCut(t *testing.T) {
	lc := startLateCall(t)
	lc.clock.awaitGrace(t) // the late call's own
	lc.clock.advance(testGrace)
	require.ErrorIs(t, awaitCut(t, lc.got), errTransportCut)
	assert.EqualValues(t, 1, lc.d.aborts.Load())
	require.NoError(t, lc.rows.Close())
	lc.l.Release(nil)
}

// A late call that returns in time ends its own watch with it. Here the
// connection then goes, reset, to the next lease (a later call under a
// live ctx was the lease's last): a watch left behind would cut that
// lease's connection once its grace passed. (Kills the mutant that drops
// leaveCalls' own.Stop.)
func TestAResultSetCallBegunAfterTheGraceLeavesNoWatchOnceReturned(t *testing.T) {
	lc := startLateCall(t)
	lc.c.let() // the late call returns before its own grace has passed
	require.ErrorIs(t, <-lc.got, io.EOF)
	lc.clock.awaitGrace(t) // the late call's own: begun once its ctx's end was seen
	require.NoError(t, lc.rows.Close())
	_, err := lc.l.Conn().ExecContext(context.Background(), "SELECT 1", nil)
	require.NoError(t, err)
	lc.l.Release(nil)

	l2, c2 := leaseOf(t, lc.m)
	require.Same(t, lc.c, c2, "the connection serves the next lease")
	lc.clock.advance(time.Hour)
	assert.Zero(t, lc.d.aborts.Load(), "another lease's connection was cut by a call that had returned")
	l2.Release(nil)
}

// A result set left open at Release: Release closes it, then the
// connection, and its watch ends with it: nothing is cut or logged when
// the query's ctx ends later.
func TestAResultSetLeftOpenAtReleaseIsNotCutLater(t *testing.T) {
	d, clock := &stuckDialer{}, newGraceClock()
	m := newStuckManager(t, d, clock, testGrace)
	l, _ := leaseOf(t, m)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := l.Conn().QueryContext(ctx, "SELECT n", nil)
	require.NoError(t, err)
	l.Release(nil)
	awaitCloses(t, d, 1)
	clock.awaitGrace(t) // Release's own, on closing the result set; stopped when it returned
	cancel()
	clock.noGraceBegins(t, "the result set's watch outlived Release")
	clock.advance(time.Hour)
	assert.Zero(t, d.aborts.Load(), "a connection was cut after its lease ended")
}

func TestCancelGraceOffNeverCuts(t *testing.T) {
	d, clock := &stuckDialer{}, newGraceClock()
	m := newStuckManager(t, d, clock, -1)
	l, c := leaseOf(t, m)
	ctx, cancel := context.WithCancel(context.Background())
	got := stuckExec(t, ctx, l, c)
	cancel()
	clock.advance(time.Hour)
	assert.Zero(t, d.aborts.Load())
	c.let()
	require.NoError(t, <-got)
	l.Release(nil)
}

// A Dialer whose AbortTransport panics: the panic stays in the timer's
// goroutine (which would otherwise crash the process), and the lease is
// still closed at Release.
func TestAnAborterThatPanicsIsContained(t *testing.T) {
	d, clock := &stuckDialer{panics: true}, newGraceClock()
	var buf syncbuf.Buffer
	m := newStuckManager(t, d, clock, testGrace, slog.New(slog.NewJSONHandler(&buf, nil)))
	l, c := leaseOf(t, m)
	ctx, cancel := context.WithCancel(context.Background())
	got := stuckExec(t, ctx, l, c)
	cancel()
	clock.awaitGrace(t)
	clock.advance(testGrace)
	assert.EqualValues(t, 1, d.aborts.Load())
	line := logLines(t, &buf)["idpool: the Dialer panicked in AbortTransport"]
	require.NotNil(t, line, "the Dialer's panic is logged")
	assert.Equal(t, "ERROR", line["level"])
	assert.NotContains(t, buf.String(), "aborter panicked", "a panic's value may hold a secret: only its type is logged")
	c.let()
	require.NoError(t, <-got)
	l.Release(nil)
	awaitCloses(t, d, 1)
}

// Calls whose ctx can never end, and Dialers that cannot cut, register
// nothing.
func TestNothingIsWatchedThatCannotBeCut(t *testing.T) {
	d, clock := &stuckDialer{}, newGraceClock()
	m := newStuckManager(t, d, clock, testGrace)
	l, _ := leaseOf(t, m)
	defer l.Release(nil)
	assert.Nil(t, l.watchCall(context.Background()), "a ctx that never ends")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := l.watchCall(ctx)
	assert.NotNil(t, w)
	w.Stop()

	plain, _ := newManager(t, Config{CancelGrace: time.Second})
	pl := acquire(t, plain, identity("a"))
	defer pl.Release(nil)
	assert.Nil(t, pl.watchCall(ctx), "a Dialer that is no Aborter")
}

// The pool's own health check of an idle connection is a call too: one
// stuck past its ValidateTimeout is cut once CancelGrace has passed, fails,
// and the waiting acquire gets a new connection.
func TestAHealthCheckStuckPastValidateTimeoutIsCut(t *testing.T) {
	d, clock := &stuckDialer{}, newGraceClock()
	m := startManager(t, Config{Server: "stuck:1/db", Dialer: d, Clock: clock, CancelGrace: testGrace, MaxSize: 1,
		HealthCheckAfter: time.Second, ValidateTimeout: time.Millisecond})
	l, c := leaseOf(t, m)
	l.Release(nil)
	// The pool may take the release in after the clock moves (its mailbox
	// was busy): wait until it holds the connection idle, so that the idle
	// time below counts and the next acquire checks it.
	require.Eventually(t, func() bool { return m.Stats().Total.Idle == 1 }, 10*time.Second, time.Millisecond)
	d.stuckPings.Store(true)
	clock.advance(2 * time.Second) // the idle connection is checked before its next use

	got := make(chan *Lease, 1)
	go func() {
		l, err := m.Acquire(context.Background(), tokens.SQLLogin())
		assert.NoError(t, err)
		got <- l
	}()
	c.awaitEntered(t)   // the check's Ping is stuck
	clock.awaitGrace(t) // its ValidateTimeout (real time) ended
	clock.advance(testGrace)
	l2 := <-got
	assert.EqualValues(t, 1, d.aborts.Load(), "the stuck check was cut")
	assert.NotSame(t, c, l2.Raw(), "the acquire got a new connection, not the cut one")
	l2.Release(nil)
	awaitCloses(t, d, 1)
}

// BenchmarkCallWatch is what CancelGrace costs a call on a Dialer that can
// cut: one Exec on a lease, with a ctx that cannot end (nothing watched)
// and with one that can (a callback registered on it and removed).
//
//	go test ./manager -run '^$' -bench CallWatch -benchmem -count 6
func BenchmarkCallWatch(b *testing.B) {
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"ctx=background", func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }},
		{"ctx=cancelable", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			m, err := New(Config{Server: "stuck:1/db", Dialer: &stuckDialer{}, HealthCheckAfter: -1})
			require.NoError(b, err)
			defer m.Close(context.Background())
			l, err := m.Acquire(context.Background(), tokens.SQLLogin())
			require.NoError(b, err)
			defer l.Release(nil)
			ctx, cancel := tc.ctx()
			defer cancel()
			c := l.Conn()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.ExecContext(ctx, "SELECT 1", nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// ctxBoundedDialer is a stuckDialer that says its driver ends every call
// at its ctx (CtxBounded), as drivers/postgres's does.
type ctxBoundedDialer struct{ *stuckDialer }

func (ctxBoundedDialer) EndsCallsAtCtx() bool { return true }

// A Dialer that is CtxBounded has no call watched (its driver ends them at
// their ctx: a watch would only cost), but a result set's Close at Release,
// which no ctx bounds, is cut: at once, with no grace, since such a driver
// runs no reader that needs the rest of the reply, and the connection is
// closed anyway.
func TestACtxBoundedDialerHasNoCallWatchedButALeftResultSetCut(t *testing.T) {
	d, clock := &stuckDialer{}, newGraceClock()
	m := startManager(t, Config{Server: "stuck:1/db", Dialer: ctxBoundedDialer{d}, Clock: clock, CancelGrace: testGrace,
		HealthCheckAfter: -1, MaxSize: 1})
	l, c := leaseOf(t, m)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	assert.Nil(t, l.watchCall(ctx), "a call is not watched")
	_, err := l.Conn().QueryContext(ctx, "SELECT n", nil)
	require.NoError(t, err)
	cancel()
	clock.noGraceBegins(t, "a query was watched on its ctx")

	d.stuckRowsClose.Store(true)
	released := make(chan struct{})
	go func() {
		defer close(released)
		l.Release(nil)
	}()
	c.awaitEntered(t)
	select {
	case <-released:
	case <-time.After(10 * time.Second):
		t.Fatal("Release stuck: the result set left open was not cut at once")
	}
	clock.noGraceBegins(t, "Release started a grace for a result set it had cut")
	assert.EqualValues(t, 1, d.aborts.Load())
	awaitCloses(t, d, 1)
}
