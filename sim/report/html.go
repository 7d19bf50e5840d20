package report

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"html"
	"io"
	"math"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/components"
	"github.com/go-echarts/go-echarts/v2/opts"
)

// echartsGz is ECharts itself, gzipped so the repository holds no file over
// 1 MB, and inlined into the report so it works offline (see
// assets/README.md).
//
//go:embed assets/echarts.min.js.gz
var echartsGz []byte

// echartsJS returns ECharts' source, decompressed from echartsGz.
func echartsJS() (string, error) {
	zr, err := gzip.NewReader(bytes.NewReader(echartsGz))
	if err != nil {
		return "", fmt.Errorf("report: embedded echarts: %w", err)
	}
	src, err := io.ReadAll(zr)
	if err != nil {
		return "", fmt.Errorf("report: embedded echarts: %w", err)
	}
	return string(src), nil
}

// WriteHTML writes r as a self-contained HTML page: a summary, the
// invariants, and charts of the acquire latency histogram, open
// connections and waiters over time, token mints and acquires per second
// over time.
func WriteHTML(w io.Writer, r *Result) error {
	page := components.NewPage()
	page.SetPageTitle("idpool sim report")
	page.AddCharts(latencyChart(r), connectionsChart(r),
		rateChart(r, "Token mints", "successful token mints per second (each opens connections; pool hits mint nothing)", "token mints/s",
			func(s Sample) uint64 { return s.TokenMints }),
		rateChart(r, "Throughput", "acquires per second", "acquires/s", func(s Sample) uint64 { return s.Acquires }))
	// go-echarts links ECharts from a CDN; inline it instead.
	js, err := echartsJS()
	if err != nil {
		return err
	}
	page.JSAssets.Clear()
	page.AddCustomizedHeaders("<script>" + js + "</script>")
	var buf bytes.Buffer
	if err := page.Render(&buf); err != nil {
		return err
	}
	out := strings.Replace(buf.String(), "<body>", "<body>\n"+summaryHTML(r), 1)
	_, err = io.WriteString(w, out)
	return err
}

func chartInit(title, subtitle string) []charts.GlobalOpts {
	return []charts.GlobalOpts{
		charts.WithInitializationOpts(opts.Initialization{Width: "1100px", Height: "360px"}),
		charts.WithTitleOpts(opts.Title{Title: title, Subtitle: subtitle}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Right: "10%"}),
		charts.WithAnimation(false),
	}
}

// latencyChart is the acquire latency histogram in log-spaced buckets.
func latencyChart(r *Result) *charts.Bar {
	bar := charts.NewBar()
	unit := "µs"
	if r.Mode == "virtual" {
		unit = "µs of virtual time"
	}
	bar.SetGlobalOptions(append(chartInit("Acquire latency",
		fmt.Sprintf("grants per latency bucket (%s); p50 %d, p99 %d, p99.9 %d, max %d", unit,
			r.AcquireLatencyUS.P50, r.AcquireLatencyUS.P99, r.AcquireLatencyUS.P999, r.AcquireLatencyUS.Max)),
		charts.WithYAxisOpts(opts.YAxis{Name: "grants", Type: "log"}),
		charts.WithXAxisOpts(opts.XAxis{Name: "≤ µs"}))...)
	labels, counts := latencyBuckets(r.LatencyHist)
	data := make([]opts.BarData, len(counts))
	for i, c := range counts {
		data[i] = opts.BarData{Value: c}
		if c == 0 {
			data[i].Value = "-" // ECharts' "no value": a log axis has no 0
		}
	}
	bar.SetXAxis(labels).AddSeries("grants", data)
	return bar
}

// latencyBuckets bins h into 1-2-5 buckets: ≤1, ≤2, ≤5, ≤10 µs and so on.
func latencyBuckets(h *hdrhistogram.Histogram) ([]string, []int64) {
	if h == nil || h.TotalCount() == 0 {
		return []string{"none"}, []int64{0}
	}
	var bounds []int64
	for decade := int64(1); ; decade *= 10 {
		for _, m := range []int64{1, 2, 5} {
			bounds = append(bounds, m*decade)
		}
		if decade*10 > h.Max() {
			break
		}
	}
	counts := make([]int64, len(bounds))
	for _, b := range h.Distribution() {
		if b.Count == 0 {
			continue
		}
		i := 0
		for i < len(bounds)-1 && b.To > bounds[i] {
			i++
		}
		counts[i] += b.Count
	}
	// Trim empty buckets at the top.
	n := len(counts)
	for n > 1 && counts[n-1] == 0 {
		n--
	}
	labels := make([]string, n)
	for i := range labels {
		labels[i] = fmtMicros(bounds[i])
	}
	return labels, counts[:n]
}

func fmtMicros(v int64) string {
	switch {
	case v >= 1_000_000:
		return fmt.Sprintf("%gs", float64(v)/1e6)
	case v >= 1000:
		return fmt.Sprintf("%gms", float64(v)/1e3)
	}
	return fmt.Sprintf("%dµs", v)
}

func timeAxis(r *Result) []string {
	xs := make([]string, len(r.Series))
	for i, s := range r.Series {
		xs[i] = fmt.Sprintf("%.2f", s.T)
	}
	return xs
}

// connectionsChart plots open connections, waiters and live pools.
func connectionsChart(r *Result) *charts.Line {
	line := charts.NewLine()
	line.SetGlobalOptions(append(chartInit("Connections and waiters", "open physical connections, queued acquires and live pools over time"),
		charts.WithXAxisOpts(opts.XAxis{Name: "s"}))...)
	open, waiters, pools := make([]opts.LineData, len(r.Series)), make([]opts.LineData, len(r.Series)), make([]opts.LineData, len(r.Series))
	for i, s := range r.Series {
		open[i] = opts.LineData{Value: s.Open}
		waiters[i] = opts.LineData{Value: s.Waiters}
		pools[i] = opts.LineData{Value: s.Pools}
	}
	line.SetXAxis(timeAxis(r)).
		AddSeries("open connections", open).
		AddSeries("waiters", waiters).
		AddSeries("pools", pools).
		SetSeriesOptions(charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(false)}))
	return line
}

// perSecond turns a cumulative count of the series into a rate per
// sampling interval.
func perSecond(r *Result, count func(Sample) uint64) []opts.LineData {
	out := make([]opts.LineData, len(r.Series))
	for i, s := range r.Series {
		v := 0.0
		if i > 0 {
			prev := r.Series[i-1]
			if dt := s.T - prev.T; dt > 0 {
				v = float64(count(s)-count(prev)) / dt
			}
		}
		out[i] = opts.LineData{Value: math.Round(v*10) / 10}
	}
	return out
}

// rateChart plots one per-second rate over time.
func rateChart(r *Result, title, subtitle, name string, count func(Sample) uint64) *charts.Line {
	line := charts.NewLine()
	line.SetGlobalOptions(append(chartInit(title, subtitle), charts.WithXAxisOpts(opts.XAxis{Name: "s"}))...)
	line.SetXAxis(timeAxis(r)).
		AddSeries(name, perSecond(r, count)).
		SetSeriesOptions(charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(false)}))
	return line
}

// summaryHTML is the report's text part: what ran, what it did, and the
// invariants.
func summaryHTML(r *Result) string {
	var b strings.Builder
	var text bytes.Buffer
	_ = WriteText(&text, r)
	verdict, color := heldVerdict(r), "#1a7f37"
	if n := r.Violations.Total(); n > 0 {
		verdict, color = fmt.Sprintf("%d invariant violations", n), "#cf222e"
	}
	b.WriteString(`<div style="width:1100px;margin:20px auto;font-family:sans-serif">`)
	b.WriteString(`<h1 style="margin-bottom:4px">idpool sim</h1>`)
	fmt.Fprintf(&b, `<p style="font-size:20px;color:%s;margin-top:0"><b>%s</b></p>`, color, verdict)
	b.WriteString(`<pre style="background:#f6f8fa;padding:12px;border-radius:6px;font-size:13px">`)
	b.WriteString(html.EscapeString(text.String()))
	b.WriteString("</pre></div>\n")
	return b.String()
}
