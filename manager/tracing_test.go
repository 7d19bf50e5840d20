package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/idpool/idpool/internal/redacttest"
	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// requestKey marks a ctx as the request's, to see where its values go.
type requestKey struct{}

func newTracer(t *testing.T) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, sr
}

func spansNamed(sr *tracetest.SpanRecorder, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range sr.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func attrOf(s sdktrace.ReadOnlySpan, key string) attribute.Value {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// sqlServerDialer is memdb announcing itself as SQL Server, for the spans'
// db.system.name, and showing the ctx of each dial on seen.
type sqlServerDialer struct {
	*memdb.DB
	seen chan context.Context
}

func (sqlServerDialer) DBSystemName() string { return "microsoft.sql_server" }

func (d sqlServerDialer) Dial(ctx context.Context, req DialRequest) (driver.Conn, error) {
	d.seen <- ctx
	return d.DB.Dial(ctx, req)
}

func TestAcquireSpanIsTheParentOfItsMintAndDialWhichSeeTheRequestValues(t *testing.T) {
	tp, sr := newTracer(t)
	db := memdb.New()
	seen := make(chan context.Context, 2) // BeforeConnect's ctx, then the Dialer's
	m, _ := newManager(t, Config{TracerProvider: tp, Dialer: sqlServerDialer{db, seen}, Server: "sql1.example:1433/appdb",
		DialTimeout: 7 * time.Second,
		Hooks:       Hooks{BeforeConnect: func(ctx context.Context, _ *DialRequest) error { seen <- ctx; return nil }}})

	ctx, request := tp.Tracer("app").Start(context.WithValue(context.Background(), requestKey{}, "req-42"), "request")
	ctx, cancel := context.WithTimeout(ctx, time.Hour)
	l, err := m.Acquire(ctx, identity("alice"))
	require.NoError(t, err)
	cancel() // the request ends; what the acquire started must not care
	request.End()
	l.Release(nil)

	hookCtx, dialCtx := <-seen, <-seen
	for name, c := range map[string]context.Context{"BeforeConnect": hookCtx, "Dialer": dialCtx} {
		assert.Equal(t, "req-42", c.Value(requestKey{}), "%s sees the acquire's values", name)
		deadline, ok := c.Deadline()
		assert.True(t, ok)
		assert.Less(t, time.Until(deadline), 8*time.Second, "%s has DialTimeout, not the request's deadline", name)
	}

	acq := spansNamed(sr, spanAcquire)
	require.Len(t, acq, 1)
	assert.Equal(t, request.SpanContext().SpanID(), acq[0].Parent().SpanID(), "the acquire is the request's child")
	assert.Equal(t, "granted", attrOf(acq[0], attrOutcome).AsString())
	assert.Equal(t, "sql1.example:1433/appdb/test#", attrOf(acq[0], attrPoolName).AsString()[:len("sql1.example:1433/appdb/test#")])
	for _, name := range []string{spanMint, spanConnect} {
		spans := spansNamed(sr, name)
		require.Len(t, spans, 1, name)
		assert.Equal(t, acq[0].SpanContext().SpanID(), spans[0].Parent().SpanID(), "%s is the acquire's child", name)
		assert.Equal(t, acq[0].SpanContext().TraceID(), spans[0].SpanContext().TraceID())
		assert.Equal(t, trace.SpanKindClient, spans[0].SpanKind())
		assert.Equal(t, "provided-token", attrOf(spans[0], attrIdentityKind).AsString())
	}
	connect := spansNamed(sr, spanConnect)[0]
	assert.Equal(t, "microsoft.sql_server", attrOf(connect, "db.system.name").AsString())
	assert.Equal(t, "sql1.example", attrOf(connect, "server.address").AsString())
	assert.EqualValues(t, 1433, attrOf(connect, "server.port").AsInt64())
	assert.Equal(t, "appdb", attrOf(connect, "db.namespace").AsString())
	assert.Equal(t, hookCtx.Value(requestKey{}), "req-42")
	assert.Equal(t, connect.SpanContext().SpanID(), trace.SpanFromContext(hookCtx).SpanContext().SpanID(),
		"BeforeConnect runs inside the dial's span")

	// A hit: one more acquire span, no dial, no mint.
	acquire(t, m, identity("alice")).Release(nil)
	assert.Len(t, spansNamed(sr, spanAcquire), 2)
	assert.Len(t, spansNamed(sr, spanConnect), 1)
}

func TestADialOutlivesTheAcquireThatCancelledIt(t *testing.T) {
	tp, _ := newTracer(t)
	m, db := newManager(t, Config{TracerProvider: tp, MaxSize: 1})
	release := db.BlockDials()
	type seen struct {
		value any
		err   error
	}
	dialCtx := make(chan seen, 1)
	db.SetDialHook(func(ctx context.Context, _ memdb.DialAttempt) error {
		dialCtx <- seen{ctx.Value(requestKey{}), ctx.Err()}
		return nil
	})
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), requestKey{}, "r"))
	done := make(chan error, 1)
	go func() { _, err := m.Acquire(ctx, identity("alice")); done <- err }()
	eventually(t, func() bool { return m.Stats().Total.Dialing == 1 }, "dialing")
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	release()
	c := <-dialCtx
	assert.Equal(t, "r", c.value)
	assert.NoError(t, c.err, "the dial is the pool's: the caller's cancellation does not reach it")
	eventually(t, func() bool { return m.Stats().Total.Idle == 1 }, "the dial finished for the pool")
}

func TestFailedAcquiresDialsAndMintsSayWhyInAWord(t *testing.T) {
	tp, sr := newTracer(t)
	m, db := newManager(t, Config{TracerProvider: tp, MaxSize: 1, DialBackoff: -1})
	db.FailDials(1, errors.New("login failed for user"))
	_, err := m.Acquire(context.Background(), identity("alice"))
	require.Error(t, err)
	mintFails := tokens.New(tokens.KindProvidedToken, "test:bob", tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		return tokens.Token{}, errors.New("endpoint down")
	}))
	_, err = m.Acquire(context.Background(), mintFails)
	require.Error(t, err)
	l := acquire(t, m, identity("alice"))
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = m.Acquire(short, identity("alice")) // MaxSize 1: times out
	require.ErrorIs(t, err, ErrAcquireTimeout)
	l.Release(nil)

	outcomes := map[string]int{}
	for _, s := range spansNamed(sr, spanAcquire) {
		outcomes[attrOf(s, attrOutcome).AsString()]++
		if s.Status().Code == codes.Error {
			assert.Equal(t, attrOf(s, attrOutcome).AsString(), attrOf(s, "error.type").AsString())
		}
	}
	assert.Equal(t, map[string]int{"dial_failed": 1, "mint_failed": 1, "granted": 1, "timeout": 1}, outcomes)
	var failedDial, failedMint bool
	for _, s := range spansNamed(sr, spanConnect) {
		failedDial = failedDial || s.Status().Code == codes.Error && attrOf(s, "error.type").AsString() == "*errors.errorString"
	}
	for _, s := range spansNamed(sr, spanMint) {
		failedMint = failedMint || s.Status().Code == codes.Error
	}
	assert.True(t, failedDial, "the failed dial's span says so")
	assert.True(t, failedMint, "the failed mint's span says so")
}

// TestSpansHoldNoTokenPasswordOrDSN: whatever the token source, the dialer
// and its errors say, no span (name, attributes, status, events) repeats a
// secret.
func TestSpansHoldNoTokenPasswordOrDSN(t *testing.T) {
	const token, password = "SENTINEL-TOKEN-x1", "SENTINEL-PASSWORD-x2"
	dsn := "sqlserver://app:" + password + "@sql1:1433?database=appdb"
	tp, sr := newTracer(t)
	db := memdb.New()
	var dials, mints atomic.Int32
	m, _ := newManager(t, Config{TracerProvider: tp, DialBackoff: -1, Dialer: DialerFunc(func(ctx context.Context, req DialRequest) (driver.Conn, error) {
		if dials.Add(1) == 1 {
			return nil, errors.New("login failed with " + req.Token.Value + " via " + dsn)
		}
		return db.Dial(ctx, req)
	})})
	id := tokens.New(tokens.KindServicePrincipal, "sp:tenant/app", tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		if mints.Add(1) == 1 {
			return tokens.Token{}, errors.New("token endpoint said " + token + " " + password)
		}
		return tokens.Token{Value: token, ExpiresOn: time.Now().Add(time.Hour)}, nil
	}))
	for range 3 {
		if l, err := m.Acquire(context.Background(), id); err == nil {
			l.Release(nil)
		}
	}
	require.Len(t, spansNamed(sr, spanAcquire), 3)
	require.NotEmpty(t, spansNamed(sr, spanConnect))
	stubs := tracetest.SpanStubsFromReadOnlySpans(sr.Ended())
	var dump strings.Builder
	for _, s := range stubs {
		dump.WriteString(s.Name + " " + s.Status.Description)
		for _, kv := range s.Attributes {
			dump.WriteString(" " + string(kv.Key) + "=" + kv.Value.String())
		}
		for _, e := range s.Events {
			dump.WriteString(" " + e.Name)
			for _, kv := range e.Attributes {
				dump.WriteString(" " + kv.Value.String())
			}
		}
	}
	for _, secret := range []string{token, password, dsn, "sp:tenant/app"} {
		assert.NotContains(t, dump.String(), secret)
	}
	redacttest.AssertRedacted(t, []string{token, password}, anySlice(stubs)...)
}

func anySlice[T any](s []T) []any {
	out := make([]any, len(s))
	for i := range s {
		out[i] = s[i]
	}
	return out
}

func TestWithoutATracerProviderAPoolHitAllocatesOnlyTheLease(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	m, _ := newManager(t, Config{HealthCheckAfter: -1})
	assert.LessOrEqual(t, hitAllocs(t, m, identity("alice")), 1.0)
}

// TestDialSpanErrorTypeIsTheInnermostErrorsType: a dial span's error.type
// names the Go type of the innermost error the dialer's error wraps, as
// docs/OPERATIONS.md ("Traces") says: for a refused TCP connect that is
// syscall.Errno (under *net.OpError and *os.SyscallError), whatever the
// dialer wrapped it in.
func TestDialSpanErrorTypeIsTheInnermostErrorsType(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	assert.Equal(t, "syscall.Errno", workErrorClass(fmt.Errorf("dial sql1: %w", refused)))
	assert.Equal(t, "*errors.errorString", workErrorClass(errors.New("login failed")))
	assert.Equal(t, "timeout", workErrorClass(fmt.Errorf("dial: %w", context.DeadlineExceeded)))
}
