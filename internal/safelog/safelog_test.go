package safelog

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// panicky panics in the methods named in its set, and otherwise writes
// through a text handler.
type panicky struct {
	slog.Handler
	in map[string]bool
}

func (p panicky) Enabled(ctx context.Context, l slog.Level) bool {
	if p.in["Enabled"] {
		panic("secret-in-panic")
	}
	return p.Handler.Enabled(ctx, l)
}

func (p panicky) Handle(ctx context.Context, r slog.Record) error {
	if p.in["Handle"] {
		panic("secret-in-panic")
	}
	return p.Handler.Handle(ctx, r)
}

func (p panicky) WithAttrs(a []slog.Attr) slog.Handler {
	if p.in["WithAttrs"] {
		panic("secret-in-panic")
	}
	return panicky{p.Handler.WithAttrs(a), p.in}
}

func (p panicky) WithGroup(g string) slog.Handler {
	if p.in["WithGroup"] {
		panic("secret-in-panic")
	}
	return panicky{p.Handler.WithGroup(g), p.in}
}

func newPanicky(buf *bytes.Buffer, methods ...string) *slog.Logger {
	in := map[string]bool{}
	for _, m := range methods {
		in[m] = true
	}
	return slog.New(panicky{slog.NewTextHandler(buf, nil), in})
}

func TestWrapPassesRecordsThrough(t *testing.T) {
	var buf bytes.Buffer
	l := Wrap(newPanicky(&buf)).With("pool", "p1").WithGroup("g")
	l.Info("hello", "k", "v")
	assert.Contains(t, buf.String(), `msg=hello pool=p1 g.k=v`)
}

func TestWrapContainsEveryPanic(t *testing.T) {
	for _, method := range []string{"Enabled", "Handle", "WithAttrs", "WithGroup"} {
		t.Run(method, func(t *testing.T) {
			var buf bytes.Buffer
			l := Wrap(newPanicky(&buf, method))
			require.NotPanics(t, func() {
				l.With("pool", "p1").WithGroup("g").Info("hello", "k", "v")
				l.Error("second")
			})
			switch method {
			case "Enabled", "Handle":
				assert.Empty(t, buf.String(), "a record the handler panics on is dropped")
			case "WithAttrs":
				assert.Contains(t, buf.String(), "msg=hello g.k=v", "the attributes are dropped, not the record")
			case "WithGroup":
				assert.Contains(t, buf.String(), "msg=hello pool=p1 k=v", "the group is dropped, not the record")
			}
		})
	}
}

func TestHandleReportsThePanicWithoutItsValue(t *testing.T) {
	var buf bytes.Buffer
	h := Wrap(newPanicky(&buf, "Handle")).Handler()
	err := h.Handle(context.Background(), slog.Record{})
	require.Error(t, err)
	assert.False(t, strings.Contains(err.Error(), "secret"), "the panic's value is not repeated: %v", err)
}

func TestWrapNilAndTwice(t *testing.T) {
	assert.Nil(t, Wrap(nil))
	var buf bytes.Buffer
	once := Wrap(newPanicky(&buf))
	assert.Same(t, once, Wrap(once), "wrapping a wrapped logger adds no layer")
}
