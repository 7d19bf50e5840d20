package bench

import (
	"bytes"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// htmlGroupOf returns the <svg> chart the page draws for the parameter set
// params (its group), or fails.
func htmlGroupOf(t *testing.T, page, params string) string {
	t.Helper()
	re := regexp.MustCompile(`(?s)<div class="params">` + regexp.QuoteMeta(params) + `</div>\s*<svg.*?</svg>`)
	g := re.FindString(page)
	require.NotEmpty(t, g, "no chart for %q", params)
	return g
}

// The retirement row of many_identities has no ns/op: the page drew it as an
// idpool bar valued 0, a figure that reads as measured (and as the best
// possible). It draws the heap kept per retired identity, the row's own
// figure.
func TestWriteHTMLDrawsTheRetiredRowsOwnFigure(t *testing.T) {
	params := Params{{"identities", 100}, {"measure", "retired"}}
	rep := &Report{Results: []Result{{Scenario: ScenarioManyIdentities, Pool: PeerIdpool, Params: params,
		Metrics: map[string]float64{MRetiredBytes: 321, MGoroutinesPer: 0}, Primary: MRetiredBytes}}}
	rep.computeRatios()
	var buf bytes.Buffer
	require.NoError(t, rep.WriteHTML(&buf, time.Unix(0, 0)))
	g := htmlGroupOf(t, buf.String(), params.String())
	assert.Contains(t, g, ">321</text>")
	assert.NotContains(t, g, ">0</text>")
}

// A row that lacks the chart's figure gets no bar with a made-up 0: it says
// the figure was not measured.
func TestWriteHTMLDrawsNoZeroBarForAnUnmeasuredFigure(t *testing.T) {
	params := Params{{"max_size", 8}, {"goroutines", 8}}
	rep := &Report{Results: []Result{
		{Scenario: ScenarioHotPath, Pool: PeerDatabaseSQL, Params: params, Metrics: map[string]float64{MNsPerOp: 100}},
		{Scenario: ScenarioHotPath, Pool: PeerIdpool, Params: params, Metrics: map[string]float64{MAllocsPerOp: 1}},
	}}
	rep.computeRatios()
	var buf bytes.Buffer
	require.NoError(t, rep.WriteHTML(&buf, time.Unix(0, 0)))
	g := htmlGroupOf(t, buf.String(), params.String())
	assert.Contains(t, g, ">100</text>")
	assert.NotContains(t, g, ">0</text>")
	assert.NotContains(t, g, `class="bar idpool"`, "no bar for a figure not measured")
	assert.Contains(t, g, ">not measured</text>")
}
