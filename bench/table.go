package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// column is one figure shown in a scenario's table.
type column struct {
	header string
	metric string
	format string // fmt verb for the value
}

// tableSpec says how a scenario's results are laid out: its columns, and
// which peer and figure the ratio column compares with.
type tableSpec struct {
	columns     []column
	base        string // peer of the ratio column; "" for none
	ratioMetric string
	spread      bool // show the primary figure's spread
	// ratioMetricFor, when set, picks the ratio's figure per row.
	ratioMetricFor func(Params) string
}

var tableSpecs = map[string]tableSpec{
	ScenarioHotPath: {columns: []column{{"ns/op", MNsPerOp, "%.0f"}, {"allocs/op", MAllocsPerOp, "%.2f"}, {"B/op", MBytesPerOp, "%.0f"}},
		base: PeerDatabaseSQL, ratioMetric: MNsPerOp, spread: true},
	ScenarioOverload: {columns: []column{{"p50 µs", MP50, "%.0f"}, {"p99 µs", MP99, "%.0f"}, {"p99.9 µs", MP999, "%.0f"},
		{"max µs", MMax, "%.0f"}, {"mean µs", MMean, "%.0f"}, {"max/mean", MFairness, "%.1f"}, {"acq/s", MOpsPerSec, "%.0f"},
		{"release p99 µs", MReleaseP99, "%.1f"}},
		base: PeerDatabaseSQL, ratioMetric: MP99, spread: true},
	ScenarioManyIdentities: {columns: []column{{"ns/op", MNsPerOp, "%.0f"}, {"allocs/op", MAllocsPerOp, "%.2f"},
		{"heap B/identity", MBytesPerIdent, "%.0f"}, {"net B/identity", MPoolBytesIdent, "%.0f"}, {"goroutines/identity", MGoroutinesPer, "%.2f"},
		{"retired B/identity", MRetiredBytes, "%.0f"}},
		base: PeerSQLDBPerIdentity, spread: true, ratioMetricFor: func(ps Params) string {
			if ps.Get("measure") == "memory" {
				return MBytesPerIdent
			}
			return MNsPerOp
		}},
	ScenarioMetrics: {columns: []column{{"ns/op", MNsPerOp, "%.0f"}, {"allocs/op", MAllocsPerOp, "%.2f"}, {"B/op", MBytesPerOp, "%.0f"}},
		base: PeerIdpool, ratioMetric: MNsPerOp, spread: true},
	ScenarioMailbox: {columns: []column{{"ns/pair", MNsPerOp, "%.0f"}, {"msgs/s", MMsgsPerSec, "%.0f"}, {"allocs/pair", MAllocsPerOp, "%.2f"}},
		spread: true},
	ScenarioTokenEconomy: {columns: []column{{"mints/1000 acq", MMintsPer1000, "%.1f"}, {"physical opens", MOpens, "%.0f"}}},
	ScenarioEndToEnd: {columns: []column{{"queries/s", MQueriesPerSec, "%.0f"}, {"ns/op", MNsPerOp, "%.0f"}, {"allocs/op", MAllocsPerOp, "%.1f"}},
		base: PeerDatabaseSQL, ratioMetric: MQueriesPerSec, spread: true},
}

// WriteTable writes the report as aligned text tables, one per scenario,
// then the ratios and targets.
func (rep *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "idpool bench: %s %s/%s, %d CPU, GOMAXPROCS %d, %s, load %s at start\n",
		rep.Machine.CPU, rep.Machine.GOOS, rep.Machine.GOARCH, rep.Machine.NumCPU, rep.Machine.GOMAXPROCS,
		rep.Machine.GoVersion, rep.Machine.LoadAvg)
	fmt.Fprintf(w, "each figure: median of %d interleaved runs of ~%s; spread = ±(max-min)/2 as %% of the median%s\n",
		rep.Runs, rep.RunTime, map[bool]string{true: " [quick]", false: ""}[rep.Quick])
	if rep.Interrupted != "" {
		fmt.Fprintf(w, "%s\n", rep.Interrupted)
	}
	for _, s := range Scenarios {
		var rows []Result
		for _, r := range rep.Results {
			if r.Scenario == s.Name {
				rows = append(rows, r)
			}
		}
		if len(rows) == 0 {
			continue
		}
		spec := tableSpecs[s.Name]
		fmt.Fprintf(w, "\n%s: %s\n", s.Name, s.Summary)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		hdr := []string{"params", "pool"}
		for _, c := range spec.columns {
			hdr = append(hdr, c.header)
		}
		if spec.spread {
			hdr = append(hdr, "spread")
		}
		if spec.hasRatio() {
			hdr = append(hdr, "vs "+spec.base)
		}
		fmt.Fprintln(tw, strings.Join(hdr, "\t")+"\t")
		for _, r := range rows {
			cells := []string{r.Params.String(), r.Pool}
			if r.Skipped {
				cells = append(cells, "skipped: "+r.Note)
				fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
				continue
			}
			for _, c := range spec.columns {
				if v, ok := r.Metric(c.metric); ok {
					cells = append(cells, fmt.Sprintf(c.format, v))
				} else {
					cells = append(cells, "-")
				}
			}
			if spec.spread {
				if r.Primary != "" && r.Spread.Runs > 1 {
					cells = append(cells, fmt.Sprintf("±%.0f%%", r.Spread.SpreadPct/2))
				} else {
					cells = append(cells, "-")
				}
			}
			if spec.hasRatio() {
				cells = append(cells, rep.ratioCell(r, spec))
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, r := range rows {
			if r.Note != "" && !r.Skipped {
				fmt.Fprintf(w, "  note (%s %s): %s\n", r.Pool, r.Params, r.Note)
			}
		}
	}
	fmt.Fprintln(w, "\nratios (idpool / peer):")
	for _, k := range sortedKeys(rep.Ratios) {
		if v := rep.Ratios[k]; v != nil {
			fmt.Fprintf(w, "  %-46s %.3g\n", k, *v)
		} else {
			fmt.Fprintf(w, "  %-46s not measured\n", k)
		}
	}
	fmt.Fprintln(w, "\ntargets:")
	for _, t := range rep.Targets {
		status := "not measured"
		if t.Met != nil {
			status = fmt.Sprintf("%.4g (limit %.4g, %s is better): ", *t.Value, t.Limit, t.Better)
			if *t.Met {
				status += "MET"
			} else {
				status += "MISSED"
			}
		}
		fmt.Fprintf(w, "  %-24s %s\n  %-24s   %s\n", t.Name, status, "", t.Goal)
	}
	fmt.Fprintf(w, "\ntook %s\n", rep.Elapsed.Round(100*1e6))
	return nil
}

func (rep *Report) ratioCell(r Result, spec tableSpec) string {
	if r.Pool == spec.base {
		return "1"
	}
	b, ok := rep.find(r.Scenario, spec.base, r.Params)
	if !ok {
		return "-"
	}
	metric := spec.ratioMetric
	if spec.ratioMetricFor != nil {
		metric = spec.ratioMetricFor(r.Params)
	}
	x, ok1 := r.Metric(metric)
	y, ok2 := b.Metric(metric)
	if !ok1 || !ok2 || y == 0 || math.IsNaN(x/y) {
		return "-"
	}
	return fmt.Sprintf("%.2fx", x/y)
}

func (s tableSpec) hasRatio() bool {
	return s.base != "" && (s.ratioMetric != "" || s.ratioMetricFor != nil)
}
