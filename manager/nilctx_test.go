package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// TestANilContextIsRefusedAtEveryEntry: a nil ctx (what staticcheck warns
// about, and what generated or wrapping code passes) used to panic with a
// bare nil-pointer dereference somewhere inside: Acquire before anything
// was queued, WithRaw after f had run, with the lease still to release. Each
// entry now refuses it first, with ErrNilContext naming the entry, and
// the Manager goes on serving and closes normally (newManager's cleanup).
func TestANilContextIsRefusedAtEveryEntry(t *testing.T) {
	for _, tracing := range []bool{false, true} {
		cfg := Config{MaxSize: 1}
		if tracing {
			cfg.TracerProvider = tracenoop.NewTracerProvider()
		}
		m, _ := newManager(t, cfg)
		id := identity("nilctx")
		l := acquire(t, m, id)
		ran := false
		var nilCtx context.Context
		for name, call := range map[string]func() error{
			"Acquire": func() error {
				l, err := m.Acquire(nilCtx, id)
				assert.Nil(t, l)
				return err
			},
			"Evict": func() error { return m.Evict(nilCtx, id) },
			"Reset": func() error { return m.Reset(nilCtx) },
			"Close": func() error { return m.Close(nilCtx) },
			"WithRaw": func() error {
				return l.WithRaw(nilCtx, func(driver.Conn) error { ran = true; return errors.New("app") })
			},
			"CheckIdentity": func() error { return l.CheckIdentity(nilCtx) },
		} {
			var err error
			require.NotPanics(t, func() { err = call() }, name)
			require.ErrorIs(t, err, ErrNilContext, name)
			assert.Contains(t, err.Error(), name, "the error names the entry")
		}
		assert.False(t, ran, "WithRaw ran f")
		l.Release(nil)
		requireServes(t, m, id)
		acquire(t, m, id).Release(nil)
	}
}
