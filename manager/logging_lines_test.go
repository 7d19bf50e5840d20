package manager

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/idpool/idpool/internal/syncbuf"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// logLines parses the JSON lines of buf by message (the last of each).
func logLines(t *testing.T, buf *syncbuf.Buffer) map[string]map[string]any {
	t.Helper()
	lines := map[string]map[string]any{}
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &rec), l)
		lines[rec["msg"].(string)] = rec
	}
	return lines
}

// The evict, reset and retirement lines of docs/OPERATIONS.md ("Logs" and
// "Rotation, Evict and Reset"): their messages, levels and attributes, the
// pool by its redacted key.
func TestEvictResetAndRetirementAreLoggedAsDocumented(t *testing.T) {
	var buf syncbuf.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m, _ := newManager(t, Config{Logger: logger, HealthCheckAfter: -1, PoolIdleTimeout: 50 * time.Millisecond})
	alice := identity("alice")
	held := acquire(t, m, alice)
	acquire(t, m, alice).Release(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	held.Release(nil)
	require.NoError(t, m.Evict(ctx, alice))
	eventually(t, func() bool { return strings.Contains(buf.String(), "idpool: pool evicted") }, "pool evicted logged")
	require.NoError(t, m.Reset(ctx))
	eventually(t, func() bool { return m.Stats().Pools == 0 }, "the quiet pool retired")
	eventually(t, func() bool { return strings.Contains(buf.String(), "idpool: pool retired") }, "pool retired logged")

	lines := logLines(t, &buf)
	for msg, attrs := range map[string][]string{
		"idpool: evict requested": {"pool"},
		"idpool: evicting pool":   {"pool", "open", "busy"},
		"idpool: pool evicted":    {"pool"},
		"idpool: reset requested": {"pools"},
		"idpool: pool retired":    {"pool"},
	} {
		rec, ok := lines[msg]
		if !assert.True(t, ok, "%q logged", msg) {
			continue
		}
		assert.Equal(t, "INFO", rec["level"], msg)
		for _, a := range attrs {
			assert.Contains(t, rec, a, "%q has %s", msg, a)
		}
		if p, ok := rec["pool"].(string); ok {
			assert.Equal(t, "memdb:1/test/test#", p[:len("memdb:1/test/test#")], "%q names the pool by its redacted key", msg)
		}
	}
	assert.NotContains(t, buf.String(), "alice", "the identity is never named")
}
