package manager

import (
	"context"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/idpool/idpool/internal/syncbuf"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

// These tests hold idpool to its promises about the code a user hands it
// (the Dialer and its connections, token sources, hooks, the telemetry
// providers, the caller's ctx) when that code misbehaves: a panic never
// ends the process, wedges an actor, leaks a slot for ever or prints its
// value; a dependency that hangs never holds an Acquire past its deadline,
// nor a Close, Evict or Reset past theirs.

// hostileSecret is what every hostile panic carries: it must never reach
// an error or a log line.
const hostileSecret = "hostile-secret-in-panic"

// hostileBound is how long a call with a deadline of hostileDeadline may
// take, with the slack of a loaded -race machine: generous, never a speed
// test.
const (
	hostileDeadline = 200 * time.Millisecond
	hostileBound    = hostileDeadline + CloseGrace + 5*time.Second
)

// misbehaviour is what a hostile dependency does at its armed method.
type misbehaviour int32

const (
	behaves misbehaviour = iota
	panics
	hangs
)

func (b misbehaviour) String() string { return [...]string{"behaves", "panics", "hangs"}[b] }

// hostile is a switchboard for one test's hostile dependencies: at the
// method it is armed for, a dependency panics (with hostileSecret in the
// value) or hangs, ignoring its ctx, until release. Hangs are released at
// the end of the test, before the Manager's Close (register it after
// newManager: t.Cleanup runs last in, first out).
type hostile struct {
	method  atomic.Pointer[string]
	how     atomic.Int32
	entered chan string
	gate    chan struct{}
	once    sync.Once
}

func newHostile(t *testing.T) *hostile {
	h := &hostile{entered: make(chan string, 64), gate: make(chan struct{})}
	t.Cleanup(h.release) // in any case; newHostileManager releases earlier
	return h
}

func (h *hostile) arm(method string, how misbehaviour) {
	h.how.Store(int32(behaves))
	h.method.Store(&method)
	h.how.Store(int32(how))
}

func (h *hostile) disarm()  { h.how.Store(int32(behaves)) }
func (h *hostile) release() { h.once.Do(func() { close(h.gate) }) }

// at misbehaves if armed for method, and reports whether it hung.
func (h *hostile) at(method string) (hung bool) {
	m := h.method.Load()
	if m == nil || *m != method {
		return false
	}
	switch misbehaviour(h.how.Load()) {
	case panics:
		panic(fmt.Sprintf("%s: %s", method, hostileSecret))
	case hangs:
		select {
		case h.entered <- method:
		default:
		}
		<-h.gate
		return true
	}
	return false
}

// hostileConn is a memdb connection whose driver methods consult h.
type hostileConn struct {
	*memdb.Conn
	h *hostile
}

func (c hostileConn) Close() error {
	// Close the session first: a Close that panics or hangs after its
	// work is the worst a pool can be handed, and memdb counts what stays
	// open.
	err := c.Conn.Close()
	c.h.at("Close")
	return err
}

func (c hostileConn) ResetSession(ctx context.Context) error {
	if c.h.at("ResetSession") {
		// A forced Close may be closing it, as documented, while this
		// hung: a real driver fails here. Checking memdb first would race
		// with that Close (memdb would count a concurrent use).
		return driver.ErrBadConn
	}
	return c.Conn.ResetSession(ctx)
}

func (c hostileConn) IsValid() bool {
	c.h.at("IsValid")
	return c.Conn.IsValid()
}

func (c hostileConn) Ping(ctx context.Context) error {
	c.h.at("Ping")
	return c.Conn.Ping(ctx)
}

func (c hostileConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.Conn.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return hostileTx{tx, c.h}, nil
}

func (c hostileConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	c.h.at("Query")
	return c.Conn.QueryContext(ctx, q, args)
}

type hostileTx struct {
	driver.Tx
	h *hostile
}

func (t hostileTx) Rollback() error {
	err := t.Tx.Rollback()
	t.h.at("Rollback")
	return err
}

// newHostileManager is newManager with a Dialer that consults h first and
// wraps what it opens in a hostileConn. h's hangs are released before the
// Manager's Close at the end of the test.
func newHostileManager(t *testing.T, cfg Config, h *hostile) (*Manager, *memdb.DB) {
	t.Helper()
	var dbp atomic.Pointer[memdb.DB]
	cfg.Dialer = DialerFunc(func(ctx context.Context, req DialRequest) (driver.Conn, error) {
		h.at("Dial")
		c, err := dbp.Load().Dial(ctx, req)
		if err != nil {
			return nil, err
		}
		return hostileConn{c.(*memdb.Conn), h}, nil
	})
	require.Zero(t, cfg.MinSize, "the Dialer is bound after New")
	m, db := newManager(t, cfg)
	dbp.Store(db)
	t.Cleanup(h.release) // before newManager's Close
	return m, db
}

// hostileIdentity mints through h.
func hostileIdentity(h *hostile, name string) tokens.Identity {
	return tokens.New(tokens.KindProvidedToken, "test:"+name, tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		h.at("Token")
		return tokens.Token{Value: "token-of-" + name, ExpiresOn: time.Now().Add(time.Hour)}, nil
	}))
}

// try runs f and returns what it panicked with, if anything.
func try(f func()) (r any) {
	defer func() { r = recover() }()
	f()
	return nil
}

// within runs f and fails the test if it takes longer than bound.
func within(t *testing.T, bound time.Duration, what string, f func()) {
	t.Helper()
	start := time.Now()
	f()
	assert.Less(t, time.Since(start), bound, "%s overshot its deadline", what)
}

func hostileCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), hostileDeadline)
}

// requireServes checks that id's pool still serves (no slot leaked, no
// actor wedged): an acquire with a fresh deadline gets a connection.
func requireServes(t *testing.T, m *Manager, id tokens.Identity) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := m.Acquire(ctx, id)
	require.NoError(t, err, "the pool no longer serves: a slot leaked or an actor is wedged")
	l.Release(nil)
}

// TestHostileDriverOnTheReleasePathLeaksNothing: Release runs the driver's
// Rollback (a transaction left open), ResetSession and IsValid in the
// caller's goroutine. One that panics must not leave the lease's slot
// taken for ever (MaxSize 1: the next acquire would wait for good), nor
// escape into the caller as a crash.
func TestHostileDriverOnTheReleasePathLeaksNothing(t *testing.T) {
	for _, method := range []string{"Rollback", "ResetSession", "IsValid"} {
		t.Run(method, func(t *testing.T) {
			h := newHostile(t)
			m, _ := newHostileManager(t, Config{MaxSize: 1, HealthCheckAfter: -1}, h)
			l := acquire(t, m, sqlLogin)
			_, err := l.Conn().BeginTx(context.Background(), driver.TxOptions{})
			require.NoError(t, err)
			h.arm(method, panics)
			r := try(func() { l.Release(nil) })
			assert.Nil(t, r, "Release let the driver's panic through")
			h.disarm()
			requireServes(t, m, sqlLogin)
		})
	}
}

// TestHostileConnectionCloseLeaksNothing: a driver Close that panics after
// closing costs nothing: the slot comes back.
func TestHostileConnectionCloseLeaksNothing(t *testing.T) {
	h := newHostile(t)
	m, _ := newHostileManager(t, Config{MaxSize: 1}, h)
	h.arm("Close", panics)
	for range 3 {
		l := acquire(t, m, sqlLogin)
		l.Release(driver.ErrBadConn) // close it
	}
	h.disarm()
	requireServes(t, m, sqlLogin)
}

// TestHostileDriverIsValidThroughTheFacadeLeaksNothing: database/sql asks
// the facade connection whether it is still valid every time a call gives
// it back (Conn.IsValid), which asks the driver inside the lease guard. A
// driver IsValid that panics must not leave the guard claimed (the lease
// would never be given back: its slot taken for good) nor crash the
// caller: the connection is judged invalid, and closed.
func TestHostileDriverIsValidThroughTheFacadeLeaksNothing(t *testing.T) {
	h := newHostile(t)
	m, db := newHostileManager(t, Config{MaxSize: 1, HealthCheckAfter: -1}, h)
	sqldb := OpenDB(m)
	t.Cleanup(func() { _ = sqldb.Close() }) // before the Manager's Close
	ctx := tokens.WithIdentity(context.Background(), sqlLogin)
	h.arm("IsValid", panics)
	r := try(func() { _, _ = sqldb.ExecContext(ctx, "SELECT 1") })
	assert.Nil(t, r, "the driver's panic reached the caller")
	h.disarm()
	requireServes(t, m, sqlLogin)
	_, err := sqldb.ExecContext(ctx, "SELECT 1")
	require.NoError(t, err)
	eventually(t, func() bool { return db.OpenNow() == 1 }, "the connection whose IsValid panicked is closed")
}

// hostileTracing is a TracerProvider whose tracers and spans consult h.
type hostileTracing struct {
	tracenoop.TracerProvider
	h *hostile
}

func (p hostileTracing) Tracer(string, ...trace.TracerOption) trace.Tracer {
	return hostileTracer{h: p.h}
}

type hostileTracer struct {
	tracenoop.Tracer
	h *hostile
}

func (t hostileTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	t.h.at("Start")
	ctx, span := t.Tracer.Start(ctx, name, opts...)
	span = hostileSpan{span, t.h}
	return trace.ContextWithSpan(ctx, span), span
}

type hostileSpan struct {
	trace.Span
	h *hostile
}

func (s hostileSpan) End(...trace.SpanEndOption)          { s.h.at("End") }
func (s hostileSpan) SetAttributes(...attribute.KeyValue) { s.h.at("SetAttributes") }
func (s hostileSpan) SetStatus(codes.Code, string)        { s.h.at("SetStatus") }

// hostileMetrics is a MeterProvider whose histograms consult h at Record.
type hostileMetrics struct {
	metricnoop.MeterProvider
	h *hostile
}

func (p hostileMetrics) Meter(string, ...metric.MeterOption) metric.Meter {
	return hostileMeter{h: p.h}
}

type hostileMeter struct {
	metricnoop.Meter
	h *hostile
}

func (m hostileMeter) Float64Histogram(string, ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	return hostileHistogram{h: m.h}, nil
}

type hostileHistogram struct {
	metricnoop.Float64Histogram
	h *hostile
}

func (x hostileHistogram) Record(context.Context, float64, ...metric.RecordOption) { x.h.at("Record") }

// TestHostileTelemetryPanicsCostNothing: a TracerProvider or MeterProvider
// whose spans or instruments panic loses its telemetry and nothing else:
// no panic reaches the caller of Acquire or Release, none ends the process
// from the goroutine of a dial or a token mint, no dialed connection is
// lost, and the pool keeps serving.
func TestHostileTelemetryPanicsCostNothing(t *testing.T) {
	for _, tc := range []struct {
		provider string
		method   string
	}{
		{"tracer", "Start"}, {"tracer", "End"}, {"tracer", "SetAttributes"}, {"tracer", "SetStatus"},
		{"meter", "Record"},
	} {
		t.Run(tc.provider+" "+tc.method, func(t *testing.T) {
			h := newHostile(t)
			cfg := Config{MaxSize: 1, HealthCheckAfter: -1, DialBackoff: -1}
			if tc.provider == "tracer" {
				cfg.TracerProvider = hostileTracing{h: h}
			} else {
				cfg.MeterProvider, cfg.MetricsUseTime = hostileMetrics{h: h}, true
			}
			m, db := newHostileManager(t, cfg, h)
			id := hostileIdentity(h, "telemetry")
			h.arm(tc.method, panics)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			// A miss: a mint and a dial, each in an idpool goroutine.
			var l *Lease
			var err error
			r := try(func() { l, err = m.Acquire(ctx, id) })
			require.Nil(t, r, "Acquire let the provider's panic through")
			require.NoError(t, err)
			// An acquire that queues (wait_time), then both released.
			second := make(chan *Lease, 1)
			go func() {
				var l2 *Lease
				r := try(func() { l2, _ = m.Acquire(ctx, id) })
				assert.Nil(t, r, "Acquire let the provider's panic through")
				second <- l2
			}()
			eventually(t, func() bool { return m.Stats().Total.Waiters == 1 }, "the second acquire queues")
			assert.Nil(t, try(func() { l.Release(nil) }), "Release let the provider's panic through")
			l2 := <-second
			require.NotNil(t, l2)
			assert.Nil(t, try(func() { l2.Release(nil) }), "Release let the provider's panic through")
			h.disarm()
			requireServes(t, m, id)
			assert.Equal(t, 1, db.OpenNow(), "one connection, never lost")
		})
	}
}

// hostileContext is a caller's ctx whose methods consult h.
type hostileContext struct {
	context.Context
	h *hostile
}

func (c hostileContext) Value(k any) any {
	c.h.at("Value")
	return c.Context.Value(k)
}

func (c hostileContext) Done() <-chan struct{} {
	c.h.at("Done")
	return c.Context.Done()
}

func (c hostileContext) Err() error {
	c.h.at("Err")
	return c.Context.Err()
}

func (c hostileContext) Deadline() (time.Time, bool) {
	c.h.at("Deadline")
	return c.Context.Deadline()
}

// TestHostileCallerCtxLeaksNothing: a caller's ctx whose Value, Done, Err
// or Deadline panics may fail that caller's Acquire, even with the panic
// (it is the caller's own goroutine and the caller's own value), but
// never in another goroutine (a dial's, a mint's, an actor's), and it
// leaves nothing behind: the pool serves the next caller.
func TestHostileCallerCtxLeaksNothing(t *testing.T) {
	for _, method := range []string{"Value", "Done", "Err", "Deadline"} {
		for _, with := range []string{"", "tracing", "PrepareConn"} {
			t.Run(method+" "+with, func(t *testing.T) {
				h := newHostile(t)
				cfg := Config{MaxSize: 1, HealthCheckAfter: -1, DialBackoff: -1}
				switch with {
				case "tracing":
					cfg.TracerProvider = tracenoop.NewTracerProvider()
				case "PrepareConn":
					cfg.Hooks.PrepareConn = func(context.Context, driver.Conn) (bool, error) { return true, nil }
				}
				m, _ := newHostileManager(t, cfg, h)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				id := identity("ctx")
				requireServes(t, m, id) // the pool exists and has an idle connection
				hctx := hostileContext{ctx, h}
				h.arm(method, panics)
				for _, evict := range []bool{false, true} {
					if evict { // a miss: a mint and a dial
						require.NoError(t, m.Evict(ctx, id))
					}
					var l *Lease
					r := try(func() { l, _ = m.Acquire(hctx, id) })
					if r != nil {
						assert.NotContains(t, fmt.Sprint(r), "token-of-")
					}
					if l != nil {
						l.Release(nil)
					}
				}
				h.disarm()
				requireServes(t, m, id)
			})
		}
	}
}

// hostileHooks are hooks that consult h, and otherwise do nothing.
func hostileHooks(h *hostile) Hooks {
	return Hooks{
		BeforeConnect: func(context.Context, *DialRequest) error { h.at("BeforeConnect"); return nil },
		AfterConnect:  func(context.Context, driver.Conn) error { h.at("AfterConnect"); return nil },
		PrepareConn:   func(context.Context, driver.Conn) (bool, error) { h.at("PrepareConn"); return true, nil },
		AfterRelease:  func(driver.Conn) bool { h.at("AfterRelease"); return true },
		BeforeClose:   func(driver.Conn) { h.at("BeforeClose") },
	}
}

// TestHostileDependencyThatHangsHoldsNoCallPastItsDeadline: a dependency
// that hangs, ignoring its ctx, holds up its own work and never a call
// with a deadline: Acquire, Evict, Reset and Close each return by their
// ctx's end (Close: plus CloseGrace), within a generous margin.
func TestHostileDependencyThatHangsHoldsNoCallPastItsDeadline(t *testing.T) {
	for _, tc := range []struct {
		method string
		// prime: a connection is opened and pooled before the hang;
		// held: and kept leased, its Release started once armed;
		// evict: an Evict, to close the idle connection, comes first.
		prime, held, evict bool
	}{
		{method: "Dial"}, {method: "Token"}, {method: "BeforeConnect"}, {method: "AfterConnect"},
		{method: "PrepareConn"},
		{method: "Ping", prime: true}, {method: "IsValid", prime: true},
		{method: "Close", prime: true, evict: true}, {method: "BeforeClose", prime: true, evict: true},
		{method: "ResetSession", prime: true, held: true}, {method: "AfterRelease", prime: true, held: true},
	} {
		t.Run(tc.method, func(t *testing.T) {
			h := newHostile(t)
			m, db := newHostileManager(t, Config{MaxSize: 1, HealthCheckAfter: time.Nanosecond, DialBackoff: -1,
				Hooks: hostileHooks(h)}, h)
			id := hostileIdentity(h, "hangs")
			var held *Lease
			if tc.prime {
				held = acquire(t, m, id)
				if !tc.held {
					held.Release(nil)
				}
			}
			h.arm(tc.method, hangs)
			if tc.held {
				go held.Release(nil)
				<-h.entered
			}
			if tc.evict {
				ctx, cancel := hostileCtx()
				within(t, hostileBound, "Evict", func() { _ = m.Evict(ctx, id) })
				cancel()
				<-h.entered
			}
			ctx, cancel := hostileCtx()
			defer cancel()
			within(t, hostileBound, "Acquire", func() {
				if l, err := m.Acquire(ctx, id); err == nil {
					go l.Release(nil) // may hang, until the test ends
				}
			})
			ctx, cancel = hostileCtx()
			defer cancel()
			within(t, hostileBound, "Evict", func() { _ = m.Evict(ctx, id) })
			ctx, cancel = hostileCtx()
			defer cancel()
			within(t, hostileBound, "Reset", func() { _ = m.Reset(ctx) })
			within(t, hostileBound, "Close", func() { _, _ = closeWithin(m, hostileDeadline) })
			h.release()
			eventually(t, func() bool { return db.OpenNow() == 0 }, "what the hung calls held is closed once they return")
		})
	}
}

// TestHostileDependencyThatPanicsLeaksNothing: every piece of user code
// the pool runs, panicking with a value that holds a secret, costs at
// most the call it ran for: no slot is kept (MaxSize 1, so the next
// acquire would wait for ever), no actor is wedged, no connection is left
// open, and neither the errors nor the log lines print the value.
func TestHostileDependencyThatPanicsLeaksNothing(t *testing.T) {
	for _, tc := range []struct {
		method string
		// prime: a connection is opened and pooled before the panic;
		// evict: an Evict then closes it.
		prime, evict bool
	}{
		{method: "Dial"}, {method: "Token"}, {method: "BeforeConnect"}, {method: "AfterConnect"},
		{method: "PrepareConn"}, {method: "AfterRelease"},
		{method: "Ping", prime: true}, {method: "IsValid", prime: true}, {method: "ResetSession"},
		{method: "Close", prime: true, evict: true}, {method: "BeforeClose", prime: true, evict: true},
	} {
		t.Run(tc.method, func(t *testing.T) {
			h := newHostile(t)
			var logs syncbuf.Buffer
			m, db := newHostileManager(t, Config{MaxSize: 1, HealthCheckAfter: time.Nanosecond, DialBackoff: -1,
				Hooks: hostileHooks(h), Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}, h)
			id := hostileIdentity(h, "panics")
			if tc.prime {
				acquire(t, m, id).Release(nil)
			}
			h.arm(tc.method, panics)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if tc.evict {
				require.NoError(t, m.Evict(ctx, id))
			}
			for range 2 {
				var l *Lease
				var err error
				require.Nil(t, try(func() { l, err = m.Acquire(ctx, id) }), "a panic reached the caller")
				if err != nil {
					assert.NotContains(t, err.Error(), hostileSecret)
					continue
				}
				require.Nil(t, try(func() { l.Release(nil) }), "a panic reached the caller")
			}
			h.disarm()
			requireServes(t, m, id)
			require.NoError(t, m.Evict(ctx, id))
			assert.Zero(t, db.OpenNow(), "a connection outlived its eviction")
			assert.NotContains(t, logs.String(), hostileSecret)
		})
	}
}

// hostileBudget is a SessionBudget with permits for all, whose methods
// consult h; signal tells the manager to look again, as a budget does
// when permits come.
type hostileBudget struct {
	h      *hostile
	signal atomic.Pointer[func(BudgetSignal)]
}

func (b *hostileBudget) TryAcquire() bool               { b.h.at("TryAcquire"); return true }
func (b *hostileBudget) Want(int)                       { b.h.at("Want") }
func (b *hostileBudget) Release()                       { b.h.at("Release") }
func (b *hostileBudget) Subscribe(f func(BudgetSignal)) { b.signal.Store(&f) }

// TestHostileSessionBudgetPanicsLeakNoPermit: a SessionBudget (Config.Fleet)
// whose methods panic inside the manager actor must not lose the message
// they were called for: a PermitGrant dropped with a TryAcquire, or a
// PermitReturn with a Release, kept a MaxTotal permit (and MaxTotal 1: the
// whole Manager) for good.
func TestHostileSessionBudgetPanicsLeakNoPermit(t *testing.T) {
	for _, method := range []string{"TryAcquire", "Want", "Release"} {
		t.Run(method, func(t *testing.T) {
			h := newHostile(t)
			b := &hostileBudget{h: h}
			m, _ := newHostileManager(t, Config{MaxSize: 1, MaxTotal: 1, Fleet: b, HealthCheckAfter: -1, DialBackoff: -1}, h)
			h.arm(method, panics)
			for range 2 {
				ctx, cancel := hostileCtx()
				if l, err := m.Acquire(ctx, sqlLogin); err == nil {
					l.Release(driver.ErrBadConn) // closed: its permits go back
				}
				cancel()
			}
			h.disarm()
			if f := b.signal.Load(); f != nil {
				(*f)(BudgetSignal{}) // permits at hand again
			}
			requireServes(t, m, sqlLogin)
			requireServes(t, m, identity("other"))
		})
	}
}
