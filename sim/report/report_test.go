package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sample() *Result {
	h := NewLatencyHist()
	for _, v := range []int64{3, 4, 4, 120, 9000, 250000} {
		_ = h.RecordValue(v)
	}
	return &Result{
		Mode: "virtual", Seed: 7, DurationS: 2, Identities: 5, Acquires: 6, Granted: 6, Hits: 4, PhysicalOpens: 2,
		ErrorsByKind: map[string]uint64{"token_outage": 1}, Violations: Violations{FIFOViolations: 2},
		ViolationSamples: []string{"fifo: <script>x</script>"},
		AcquireLatencyUS: LatencyOf(h), LatencyHist: h,
		Series: []Sample{{T: 0}, {T: 1, Acquires: 3, TokenMints: 1, Open: 2}, {T: 2, Acquires: 6, TokenMints: 2}},
	}
}

func TestJSONHasTheDocumentedFields(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteJSON(&b, sample()))
	var m map[string]any
	require.NoError(t, json.Unmarshal(b.Bytes(), &m))
	for _, k := range []string{"mode", "seed", "duration_s", "identities", "workers", "acquires", "hits", "physical_opens",
		"token_mints", "rotations", "stale_drained", "pools_retired", "timeouts", "errors", "acquire_latency_us", "violations"} {
		assert.Contains(t, m, k)
	}
	lat := m["acquire_latency_us"].(map[string]any)
	for _, k := range []string{"p50", "p99", "p999", "max"} {
		assert.Contains(t, lat, k)
	}
	v := m["violations"].(map[string]any)
	for _, k := range []string{"cross_identity", "double_lease", "over_max", "expired_token_use", "lost_waiters", "leaked_conns", "fifo_violations"} {
		assert.Contains(t, v, k)
	}
	assert.EqualValues(t, 2, v["fifo_violations"])
	assert.NotContains(t, m, "Series")
}

func TestTextNamesViolations(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteText(&b, sample()))
	out := b.String()
	assert.Regexp(t, `fifo_violations +2  VIOLATED`, out)
	assert.Contains(t, out, "2 violations")
	assert.Contains(t, out, "token_outage 1")
}

func TestHTMLIsSelfContained(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteHTML(&b, sample()))
	out := b.String()
	assert.NotContains(t, out, "<script src=", "the page must not load anything")
	assert.Contains(t, out, "echarts.init")
	assert.Greater(t, len(out), 500_000, "ECharts must be inlined")
	for _, title := range []string{"Acquire latency", "Connections and waiters", "Token mints", "Throughput"} {
		assert.Contains(t, out, title)
	}
	assert.Contains(t, out, "&lt;script&gt;x&lt;/script&gt;", "text is escaped")
	assert.Equal(t, 1, strings.Count(out, "<h1"))
}

func TestLatencyBuckets(t *testing.T) {
	labels, counts := latencyBuckets(sample().LatencyHist)
	assert.Equal(t, "1µs", labels[0])
	assert.Equal(t, "500ms", labels[len(labels)-1])
	var total int64
	for _, c := range counts {
		total += c
	}
	assert.Equal(t, int64(6), total)
	labels, counts = latencyBuckets(nil)
	assert.Equal(t, []string{"none"}, labels)
	assert.Equal(t, []int64{0}, counts)
}

// TestTextListsSuspectsApartFromViolations: a live run's suspects are shown
// with their samples and leave "all invariants held" standing.
func TestTextListsSuspectsApartFromViolations(t *testing.T) {
	r := sample()
	r.Mode, r.Violations, r.ViolationSamples = "live", Violations{}, nil
	r.Suspects = map[string]uint64{"fifo_overtake": 2}
	r.SuspectSamples = []string{"fifo_overtake: acquire 1 of x"}
	var b bytes.Buffer
	require.NoError(t, WriteText(&b, r))
	out := b.String()
	assert.Regexp(t, `fifo_violations +0  \(checked in virtual mode only\)`, out)
	// sim/live counts none of these: a live report must not call them ok.
	for _, name := range []string{"closed_while_leased", "state_machine", "churn", "lost_to_retirement", "route_to_stopped", "route_before_start"} {
		assert.Regexp(t, name+` +0  \(checked in virtual mode only\)`, out)
	}
	assert.Regexp(t, `stale_lease_use +0  ok`, out, "checked in both modes")
	assert.Regexp(t, `fifo_overtake +2`, out)
	assert.Contains(t, out, "- fifo_overtake: acquire 1 of x")
	assert.Contains(t, out, "all invariants held")
}
