package bench

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"
)

// chartMetric is the figure each scenario's chart draws.
var chartMetric = map[string]struct{ metric, label string }{
	ScenarioHotPath:        {MNsPerOp, "ns per acquire+release (lower is better)"},
	ScenarioOverload:       {MP99, "p99 acquire wait, µs (lower is better)"},
	ScenarioManyIdentities: {MNsPerOp, "ns per acquire+release; memory rows: heap bytes per idle identity; retired rows: heap bytes kept per retired identity (lower is better)"},
	ScenarioMetrics:        {MNsPerOp, "ns per acquire+release, with and without a MeterProvider (lower is better)"},
	ScenarioMailbox:        {MMsgsPerSec, "mailbox messages per second (higher is better)"},
	ScenarioTokenEconomy:   {MMintsPer1000, "token mints per 1,000 acquires (lower is better)"},
	ScenarioEndToEnd:       {MQueriesPerSec, "SELECT 1 per second (higher is better)"},
}

type htmlBar struct {
	Pool, Value string
	Width       float64 // px
	Y           int
	Idpool      bool
	// Measured is false for a row without the chart's figure: it gets no
	// bar, only "not measured", so a hole never reads as a 0.
	Measured bool
}

type htmlGroup struct {
	Params string
	Bars   []htmlBar
	Height int
}

type htmlSection struct {
	Name, Summary, Label string
	Groups               []htmlGroup
	Table                template.HTML
}

// WriteHTML writes the report as one self-contained HTML page: a bar chart
// per scenario (one group of bars per parameter set) and the text tables.
func (rep *Report) WriteHTML(w io.Writer, at time.Time) error {
	var sections []htmlSection
	for _, s := range Scenarios {
		cm := chartMetric[s.Name]
		sec := htmlSection{Name: s.Name, Summary: s.Summary, Label: cm.label}
		var order []string
		groups := map[string][]Result{}
		for _, r := range rep.Results {
			if r.Scenario != s.Name || r.Skipped {
				continue
			}
			k := r.Params.String()
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], r)
		}
		for _, k := range order {
			metric := cm.metric
			if s.Name == ScenarioManyIdentities {
				metric = manyIdentitiesChartMetric(groups[k][0].Params)
			}
			top := 0.0
			for _, r := range groups[k] {
				if v, ok := r.Metric(metric); ok {
					top = math.Max(top, v)
				}
			}
			g := htmlGroup{Params: k}
			for i, r := range groups[k] {
				bar := htmlBar{Pool: r.Pool, Value: "not measured", Y: i * 18, Idpool: strings.HasPrefix(r.Pool, PeerIdpool)}
				if v, ok := r.Metric(metric); ok {
					width := 0.0
					if top > 0 {
						width = 420 * v / top
					}
					bar.Value, bar.Width, bar.Measured = fmt.Sprintf("%.4g", v), math.Max(width, 1), true
				}
				g.Bars = append(g.Bars, bar)
			}
			g.Height = len(g.Bars)*18 + 4
			sec.Groups = append(sec.Groups, g)
		}
		if len(sec.Groups) > 0 {
			sections = append(sections, sec)
		}
	}
	var table strings.Builder
	if err := rep.WriteTable(&table); err != nil {
		return err
	}
	return htmlPage.Execute(w, map[string]any{"At": at.UTC().Format(time.RFC3339), "Machine": rep.Machine, "Sections": sections, "Table": table.String(), "Interrupted": rep.Interrupted})
}

// manyIdentitiesChartMetric is the figure a many_identities row is drawn
// by: each kind of row (throughput, memory, retired) has its own.
func manyIdentitiesChartMetric(ps Params) string {
	switch ps.Get("measure") {
	case "memory":
		return MBytesPerIdent
	case "retired":
		return MRetiredBytes
	}
	return MNsPerOp
}

var htmlPage = template.Must(template.New("report").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>idpool bench</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;max-width:72em}
h2{margin-top:2em}.params{font:12px monospace;margin:.8em 0 .2em}
svg text{font:11px monospace}.bar{fill:#9aa7b8}.idpool{fill:#2a7ae2}
pre{font:12px monospace;background:#f6f6f6;padding:1em;overflow-x:auto}
</style></head><body>
<h1>idpool bench</h1>
<p>{{.At}} · {{.Machine.CPU}} · {{.Machine.NumCPU}} CPU · GOMAXPROCS {{.Machine.GOMAXPROCS}} · {{.Machine.GoVersion}} · load {{.Machine.LoadAvg}} at start</p>
{{if .Interrupted}}<p style="font-size:18px;color:#cf222e"><b>{{.Interrupted}}</b></p>{{end}}
{{range .Sections}}
<h2>{{.Name}}</h2><p>{{.Summary}}. Bars: {{.Label}}.</p>
{{range .Groups}}<div class="params">{{.Params}}</div>
<svg width="720" height="{{.Height}}">{{range .Bars}}
<text x="0" y="{{.Y}}" dy="13">{{.Pool}}</text>
{{if .Measured}}<rect class="bar{{if .Idpool}} idpool{{end}}" x="190" y="{{.Y}}" width="{{printf "%.1f" .Width}}" height="15"></rect>
{{end}}<text x="{{printf "%.1f" .Width}}" y="{{.Y}}" dx="196" dy="13">{{.Value}}</text>{{end}}
</svg>{{end}}
{{end}}
<h2>Tables</h2><pre>{{.Table}}</pre>
</body></html>
`))
