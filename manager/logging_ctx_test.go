package manager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// ctxHandler records each log line with the ctx it was logged with, as a
// handler adding trace ids would see it.
type ctxHandler struct {
	mu    sync.Mutex
	lines []ctxLine
}

type ctxLine struct {
	msg     string
	request any // the requestKey value of the line's ctx
	attrs   map[string]string
}

func (h *ctxHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *ctxHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *ctxHandler) WithGroup(string) slog.Handler            { return h }

func (h *ctxHandler) Handle(ctx context.Context, r slog.Record) error {
	line := ctxLine{msg: r.Message, request: ctx.Value(requestKey{}), attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool { line.attrs[a.Key] = a.Value.String(); return true })
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lines = append(h.lines, line)
	return nil
}

// requests returns the request values of the lines with msg, in order.
func (h *ctxHandler) requests(msg string) []any {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []any
	for _, l := range h.lines {
		if l.msg == msg {
			out = append(out, l.request)
		}
	}
	return out
}

func (h *ctxHandler) attr(msg, key string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range h.lines {
		if l.msg == msg {
			return l.attrs[key]
		}
	}
	return ""
}

func request(name string) context.Context {
	return context.WithValue(context.Background(), requestKey{}, name)
}

// TestLogLinesCausedByAnAcquireCarryItsCtx: the pool actor's lines about a
// failed mint, a failed dial and a rotated token, and the manager's about a
// new pool, are logged with the ctx of the acquire that caused them, however
// many goroutines and messages lay between.
func TestLogLinesCausedByAnAcquireCarryItsCtx(t *testing.T) {
	h := &ctxHandler{}
	clock := &logSkewClock{}
	m, db := newManager(t, Config{MaxSize: 1, Logger: slog.New(h), DialBackoff: -1, HealthCheckAfter: -1, MaxLifetime: -1, Clock: clock})
	var n atomic.Int64
	id := tokens.New(tokens.KindServicePrincipal, "sp:tenant/app", tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		if n.Add(1) == 1 {
			return tokens.Token{}, errors.New("token endpoint down")
		}
		return tokens.Token{Value: fmt.Sprint("token-", n.Load()), ExpiresOn: clock.Now().Add(time.Hour)}, nil
	}))

	_, err := m.Acquire(request("mint-fails"), id)
	require.Error(t, err)
	l, err := m.Acquire(request("opens"), id)
	require.NoError(t, err)
	l.Release(errBad) // closed: the next acquire dials
	db.FailDials(1, errors.New("login failed"))
	_, err = m.Acquire(request("dial-fails"), id)
	require.Error(t, err)
	l, err = m.Acquire(request("reopens"), id)
	require.NoError(t, err)
	l.Release(nil)
	clock.off.Add(int64(56 * time.Minute)) // inside the token threshold
	l, err = m.Acquire(request("rotates"), id)
	require.NoError(t, err)
	l.Release(nil)

	assert.Equal(t, []any{"mint-fails"}, h.requests("idpool: pool created"))
	assert.Equal(t, []any{"mint-fails"}, h.requests("idpool: token mint failed"))
	assert.Equal(t, []any{"dial-fails"}, h.requests("idpool: dial failed"))
	assert.Equal(t, []any{"rotates"}, h.requests("idpool: token rotated, reopening"))
	assert.Equal(t, []any{"opens", "reopens", "rotates"}, h.requests("idpool: acquired"))
	// Lines no acquire caused carry no request.
	for _, r := range h.requests("idpool: connection closed") {
		assert.Nil(t, r, "a close caused by a release")
	}
}

// TestLogsAndMetricsNameTheIdentityKindAlike: one vocabulary, tokens.Kind's
// String, in log lines and metric attributes.
func TestLogsAndMetricsNameTheIdentityKindAlike(t *testing.T) {
	h := &ctxHandler{}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { require.NoError(t, mp.Shutdown(context.Background())) }()
	m, _ := newManager(t, Config{Logger: slog.New(h), MeterProvider: mp})
	id := tokens.New(tokens.KindServicePrincipal, "sp:tenant/app", tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		return tokens.Token{Value: "t", ExpiresOn: time.Now().Add(time.Hour)}, nil
	}))
	acquire(t, m, id).Release(nil)
	logged := h.attr("idpool: pool created", "identity_kind")
	assert.Equal(t, tokens.KindServicePrincipal.String(), logged)
	got := collect(t, reader)
	for _, p := range got["db.client.connection.max"].Data.(metricdata.Sum[int64]).DataPoints {
		v, _ := p.Attributes.Value(attrIdentityKind)
		assert.Equal(t, logged, v.AsString())
	}
}
