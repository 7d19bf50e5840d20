package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fleetSample() *Fleet {
	return &Fleet{Workers: 3, Cap: 10, Limit: 11, TTL: 2 * time.Second, PeakSessions: 10, Acquires: 900, Failures: 12,
		Dials: 80, Fetches: 30, Refused: 17, PeakHeld: 10, PeakWaiting: 9, MeanFetch: 6 * time.Millisecond,
		MeanDial: 2 * time.Millisecond, KillRecovery: 1650 * time.Millisecond, KillBound: 3 * time.Second,
		OverCapStretches: 2, OverCapLongest: 750 * time.Microsecond, OverCapBound: 100 * time.Millisecond,
		Processes: []FleetProcess{{Index: 0, Acquires: 300, Refused: 6, PeakHeld: 4, Kills: 1}, {Index: 1, Acquires: 600, Refused: 11, PeakHeld: 5}},
		Events:    []FleetEvent{{T: 1.5, What: "SIGKILL worker 0"}},
		Series:    []FleetSample{{T: 0, EtcdHeld: -1}, {T: 0.1, Sessions: 9, Held: 10, InUse: 9, Waiting: 4, EtcdHeld: 10, Acquires: 40}},
	}
}

func TestFleetJSONHasTheDocumentedFields(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteFleetJSON(&b, fleetSample()))
	var m map[string]any
	require.NoError(t, json.Unmarshal(b.Bytes(), &m))
	assert.Equal(t, "fleet", m["mode"])
	for _, k := range []string{"processes", "cap", "server_limit", "ttl_ms", "peak_sessions", "limit_refusals", "acquires",
		"failures", "physical_opens", "mean_open_ms", "permits", "kill_recovery_ms", "leader_stop_resume_ms",
		"leader_move_resume_ms", "etcd_down_shed_ms", "etcd_recovery_ms", "lease_losses", "per_process", "events", "violations"} {
		assert.Contains(t, m, k)
	}
	p := m["permits"].(map[string]any)
	assert.EqualValues(t, 10, p["peak_held"])
	assert.EqualValues(t, 9, p["peak_waiting"])
	assert.EqualValues(t, 17, p["refused"])
	assert.EqualValues(t, 6, p["mean_fetch_ms"])
	assert.EqualValues(t, 1650, m["kill_recovery_ms"])
	assert.EqualValues(t, 2, m["over_cap_stretches"])
	assert.EqualValues(t, 0.75, m["over_cap_longest_ms"])
	assert.EqualValues(t, 100, m["over_cap_bound_ms"])
	assert.Equal(t, []any{}, m["violations"], "no violation is an empty list, not null")
	pp := m["per_process"].([]any)[0].(map[string]any)
	assert.EqualValues(t, 6, pp["refused"])
	assert.EqualValues(t, 1, pp["kills"])
	assert.NotContains(t, b.String(), "Series")
}

func TestFleetTextShowsPermitsAndViolations(t *testing.T) {
	r := fleetSample()
	var b bytes.Buffer
	require.NoError(t, WriteFleetText(&b, r))
	out := b.String()
	assert.Contains(t, out, "fleet permits            peak 10 held by all processes (cap 10), peak 9 dials waiting; 17 fetches found the fleet full (refused)")
	assert.Contains(t, out, "SIGKILL permit recovery  1.65s (bound 3s)")
	assert.Contains(t, out, "server above the cap     longest 750µs at a stretch, 2 stretches (closed sessions not yet reaped; bound 100ms)")
	assert.Contains(t, out, "1.5s SIGKILL worker 0")
	assert.Regexp(t, `\n +0 +300 +0 +0 +0 +6 +4 +1\n`, out, "per process row")
	assert.Contains(t, out, "violations               0 (fleet_over_cap, kill_recovery, fail_closed, lease_kept)")

	r.Violations = []string{"fleet_over_cap: server peak 12"}
	b.Reset()
	require.NoError(t, WriteFleetText(&b, r))
	assert.Contains(t, b.String(), "violations               1\n    - fleet_over_cap: server peak 12")
}

func TestFleetHTMLIsSelfContained(t *testing.T) {
	r := fleetSample()
	r.Violations = []string{"<script>x</script>"}
	var b bytes.Buffer
	require.NoError(t, WriteFleetHTML(&b, r))
	out := b.String()
	assert.NotContains(t, out, "<script src=")
	assert.Greater(t, len(out), 500_000, "ECharts must be inlined")
	for _, s := range []string{"Fleet permits and server sessions", "server sessions", "permits held", "dials waiting", "Throughput", "1 invariant violations"} {
		assert.Contains(t, out, s)
	}
	assert.Contains(t, out, "&lt;script&gt;x&lt;/script&gt;", "text is escaped")
	assert.Equal(t, 1, strings.Count(out, "<h1"))
}
