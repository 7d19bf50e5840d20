package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strings"
	"time"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/components"
	"github.com/go-echarts/go-echarts/v2/opts"
)

// Fleet is what a fleet simulation (`idpool sim --fleet N`, package
// sim/fleet) measured: N idpool processes sharing one etcd session budget
// against one server that counts its sessions itself.
type Fleet struct {
	// Workers is the number of idpool processes.
	Workers int
	// Cap is the fleet's cap; Limit the server's session limit (Cap plus
	// the headroom for sessions the server has not reaped yet).
	Cap, Limit int
	TTL        time.Duration
	// PeakSessions is the most sessions the server had at once;
	// LimitRefusals the logins it refused at its limit.
	PeakSessions, LimitRefusals int
	// OverCapStretches counts the stretches during which the server had
	// more sessions than Cap (closed sessions it had not reaped yet);
	// OverCapLongest is the longest, OverCapBound the bound checked: a
	// session opened without a permit would stay longer.
	OverCapStretches             int
	OverCapLongest, OverCapBound time.Duration
	// Totals over every worker process, killed ones included.
	Acquires, Failures, Dials, Fetches, Refused, LeaseLosses uint64
	// PeakHeld is the most fleet permits etcd recorded at once for all
	// processes together (read every 100ms; above Cap is a violation);
	// PeakWaiting the most dials waiting for a fleet permit at once.
	PeakHeld, PeakWaiting int
	// MeanFetch is the mean time of one fetch of permits (a read and a
	// transaction on etcd); MeanDial of one physical open.
	MeanFetch, MeanDial time.Duration
	// KillRecovery is the time from a SIGKILL of a worker until etcd had
	// dropped its permits; KillBound the bound checked (TTL + 1s).
	KillRecovery, KillBound time.Duration
	// LeaderStopResume and LeaderMoveResume are the times from stopping the
	// etcd leader, and from moving the leadership, until every worker had
	// renewed its lease again.
	LeaderStopResume, LeaderMoveResume time.Duration
	// EtcdDownShed is the time from stopping all of etcd until every
	// process had shed (no valid lease, no permit in use) and the server
	// had no session left; EtcdRecovery from restarting it until sessions
	// were open again.
	EtcdDownShed, EtcdRecovery time.Duration
	// Violations lists every broken invariant; empty on success.
	Violations []string
	// Processes has each worker slot's figures at the end of the run.
	Processes []FleetProcess
	// Stopped, when set, says why the run ended before its last fault was
	// measured (interrupted, or a step that failed): the figures cover only
	// the part that ran, and every output says so rather than pass for a
	// whole run.
	Stopped string
	// Events are the faults injected, in order.
	Events []FleetEvent
	// Series is sampled during the run, for the HTML chart; left out of
	// the JSON.
	Series []FleetSample
}

// FleetProcess is one worker slot's totals (a killed worker's restart
// included).
type FleetProcess struct {
	Index       int    `json:"index"`
	Acquires    uint64 `json:"acquires"`
	Failures    uint64 `json:"failures"`
	Dials       uint64 `json:"physical_opens"`
	Fetches     uint64 `json:"fetches"`
	Refused     uint64 `json:"refused"`
	LeaseLosses uint64 `json:"lease_losses"`
	// PeakHeld is the most permits the slot's process held at once.
	PeakHeld int `json:"peak_held"`
	// Kills counts the SIGKILLs of the slot's process (it is restarted).
	Kills int `json:"kills"`
}

// FleetEvent is a fault injected at T seconds since the start.
type FleetEvent struct {
	T    float64 `json:"t_s"`
	What string  `json:"what"`
}

// FleetSample is one point of the fleet's time series.
type FleetSample struct {
	// T is seconds since the start.
	T float64
	// Sessions is the server's own count; Held, InUse and Waiting sum the
	// processes' reports of permits held, in use, and dials waiting for
	// one; EtcdHeld is the sum etcd records (-1: etcd did not answer).
	Sessions, Held, InUse, Waiting, EtcdHeld int
	// Acquires is cumulative over the fleet.
	Acquires uint64
}

// fleetJSON is Fleet's JSON form: durations in milliseconds.
type fleetJSON struct {
	Mode              string         `json:"mode"`
	Processes         int            `json:"processes"`
	Cap               int            `json:"cap"`
	ServerLimit       int            `json:"server_limit"`
	TTLMS             int64          `json:"ttl_ms"`
	PeakSessions      int            `json:"peak_sessions"`
	LimitRefusals     int            `json:"limit_refusals"`
	OverCapStretches  int            `json:"over_cap_stretches"`
	OverCapLongestMS  float64        `json:"over_cap_longest_ms"`
	OverCapBoundMS    int64          `json:"over_cap_bound_ms"`
	Acquires          uint64         `json:"acquires"`
	Failures          uint64         `json:"failures"`
	PhysicalOpens     uint64         `json:"physical_opens"`
	MeanOpenMS        float64        `json:"mean_open_ms"`
	Permits           fleetPermits   `json:"permits"`
	KillRecoveryMS    int64          `json:"kill_recovery_ms"`
	KillBoundMS       int64          `json:"kill_bound_ms"`
	LeaderStopMS      int64          `json:"leader_stop_resume_ms"`
	LeaderMoveMS      int64          `json:"leader_move_resume_ms"`
	EtcdDownShedMS    int64          `json:"etcd_down_shed_ms"`
	EtcdRecoveryMS    int64          `json:"etcd_recovery_ms"`
	LeaseLosses       uint64         `json:"lease_losses"`
	PerProcess        []FleetProcess `json:"per_process"`
	Events            []FleetEvent   `json:"events"`
	Violations        []string       `json:"violations"`
	InvariantsChecked []string       `json:"invariants_checked"`
	Stopped           string         `json:"stopped,omitempty"`
}

type fleetPermits struct {
	PeakHeld    int     `json:"peak_held"`
	PeakWaiting int     `json:"peak_waiting"`
	Refused     uint64  `json:"refused"`
	Fetches     uint64  `json:"fetches"`
	MeanFetchMS float64 `json:"mean_fetch_ms"`
}

// fleetInvariants are what a fleet run checks.
var fleetInvariants = []string{"fleet_over_cap", "kill_recovery", "fail_closed", "lease_kept"}

// WriteFleetJSON writes r as one JSON object and a newline.
func WriteFleetJSON(w io.Writer, r *Fleet) error {
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	fms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	v := fleetJSON{Mode: "fleet", Processes: r.Workers, Cap: r.Cap, ServerLimit: r.Limit, TTLMS: ms(r.TTL),
		PeakSessions: r.PeakSessions, LimitRefusals: r.LimitRefusals, OverCapStretches: r.OverCapStretches,
		OverCapLongestMS: fms(r.OverCapLongest), OverCapBoundMS: ms(r.OverCapBound), Acquires: r.Acquires, Failures: r.Failures,
		PhysicalOpens: r.Dials, MeanOpenMS: fms(r.MeanDial),
		Permits:        fleetPermits{PeakHeld: r.PeakHeld, PeakWaiting: r.PeakWaiting, Refused: r.Refused, Fetches: r.Fetches, MeanFetchMS: fms(r.MeanFetch)},
		KillRecoveryMS: ms(r.KillRecovery), KillBoundMS: ms(r.KillBound), LeaderStopMS: ms(r.LeaderStopResume),
		LeaderMoveMS: ms(r.LeaderMoveResume), EtcdDownShedMS: ms(r.EtcdDownShed), EtcdRecoveryMS: ms(r.EtcdRecovery),
		LeaseLosses: r.LeaseLosses, PerProcess: r.Processes, Events: r.Events, Violations: r.Violations,
		InvariantsChecked: fleetInvariants, Stopped: r.Stopped}
	if v.Violations == nil {
		v.Violations = []string{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WriteFleetText writes the human summary of r.
func WriteFleetText(w io.Writer, r *Fleet) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	ms := func(d time.Duration) string {
		if d == 0 {
			return "-"
		}
		return d.Round(time.Millisecond).String()
	}
	p("fleet: %d processes, cap %d sessions, lease TTL %s\n", r.Workers, r.Cap, r.TTL)
	if r.Stopped != "" {
		p("  stopped short            %s; what follows covers only the part that ran\n", r.Stopped)
	}
	p("  server peak sessions     %d (cap %d, server limit %d), logins refused at the limit %d\n", r.PeakSessions, r.Cap, r.Limit, r.LimitRefusals)
	p("  server above the cap     longest %s at a stretch, %d stretches (closed sessions not yet reaped; bound %s)\n",
		r.OverCapLongest.Round(time.Microsecond), r.OverCapStretches, ms(r.OverCapBound))
	p("  acquires                 %d served, %d failed (timeouts while the fleet was full or etcd down)\n", r.Acquires, r.Failures)
	p("  fleet permits            peak %d held by all processes (cap %d), peak %d dials waiting; %d fetches found the fleet full (refused)\n",
		r.PeakHeld, r.Cap, r.PeakWaiting, r.Refused)
	p("  physical opens           %d, mean %s; permit fetches %d, mean %s\n", r.Dials, ms(r.MeanDial), r.Fetches, ms(r.MeanFetch))
	if r.Dials > 0 {
		p("  etcd time per open       %s (fetch time spread over every physical open)\n",
			(time.Duration(r.Fetches) * r.MeanFetch / time.Duration(r.Dials)).Round(10*time.Microsecond))
	}
	p("  SIGKILL permit recovery  %s (bound %s)\n", ms(r.KillRecovery), ms(r.KillBound))
	p("  etcd leader stop         every lease renewed again after %s\n", ms(r.LeaderStopResume))
	p("  etcd leader change       every lease renewed again after %s\n", ms(r.LeaderMoveResume))
	p("  etcd fully down          sessions shed after %s; back %s after restart\n", ms(r.EtcdDownShed), ms(r.EtcdRecovery))
	p("  lease losses             %d\n", r.LeaseLosses)
	if len(r.Processes) > 0 {
		p("  per process              #  acquires  failed  opens  fetches  refused  peak held  kills\n")
		for _, pr := range r.Processes {
			p("                           %d  %8d  %6d  %5d  %7d  %7d  %9d  %5d\n",
				pr.Index, pr.Acquires, pr.Failures, pr.Dials, pr.Fetches, pr.Refused, pr.PeakHeld, pr.Kills)
		}
	}
	if len(r.Events) > 0 {
		p("  faults                  ")
		for i, e := range r.Events {
			if i > 0 {
				p(";")
			}
			p(" %.1fs %s", e.T, e.What)
		}
		p("\n")
	}
	if len(r.Violations) == 0 {
		p("  violations               0 (%s)\n", strings.Join(fleetInvariants, ", "))
	} else {
		p("  violations               %d\n", len(r.Violations))
		for _, v := range r.Violations {
			p("    - %s\n", v)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteFleetHTML writes r as a self-contained HTML page: the text summary
// and charts of the server's sessions against the fleet's permits (held, in
// use, waiting) and the cap, and of the fleet's throughput, over time.
func WriteFleetHTML(w io.Writer, r *Fleet) error {
	page := components.NewPage()
	page.SetPageTitle("idpool sim --fleet report")
	res := &Result{Series: make([]Sample, len(r.Series))}
	for i, s := range r.Series {
		res.Series[i] = Sample{T: s.T, Acquires: s.Acquires}
	}
	page.AddCharts(fleetChart(r), rateChart(res, "Throughput", "acquires per second, all processes", "acquires/s",
		func(s Sample) uint64 { return s.Acquires }))
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
	var text bytes.Buffer
	_ = WriteFleetText(&text, r)
	verdict, color := "every fleet invariant held", "#1a7f37"
	if r.Stopped != "" {
		verdict, color = "no fleet invariant violated in the part that ran ("+r.Stopped+")", "#9a6700"
	}
	if n := len(r.Violations); n > 0 {
		verdict, color = fmt.Sprintf("%d invariant violations", n), "#cf222e"
	}
	var sum strings.Builder
	sum.WriteString(`<div style="width:1100px;margin:20px auto;font-family:sans-serif">`)
	sum.WriteString(`<h1 style="margin-bottom:4px">idpool sim --fleet</h1>`)
	fmt.Fprintf(&sum, `<p style="font-size:20px;color:%s;margin-top:0"><b>%s</b></p>`, color, verdict)
	sum.WriteString(`<pre style="background:#f6f8fa;padding:12px;border-radius:6px;font-size:13px">`)
	sum.WriteString(html.EscapeString(text.String()))
	sum.WriteString("</pre></div>\n")
	_, err = io.WriteString(w, strings.Replace(buf.String(), "<body>", "<body>\n"+sum.String(), 1))
	return err
}

// fleetChart plots the server's sessions, the permits and the cap.
func fleetChart(r *Fleet) *charts.Line {
	line := charts.NewLine()
	line.SetGlobalOptions(append(chartInit("Fleet permits and server sessions",
		"the server's own session count against the cap; permits held as etcd records them and as the processes report them, in use and waited for"),
		charts.WithXAxisOpts(opts.XAxis{Name: "s"}))...)
	n := len(r.Series)
	sessions, etcd, held, inUse, waiting, cp := make([]opts.LineData, n), make([]opts.LineData, n), make([]opts.LineData, n),
		make([]opts.LineData, n), make([]opts.LineData, n), make([]opts.LineData, n)
	xs := make([]string, n)
	for i, s := range r.Series {
		xs[i] = fmt.Sprintf("%.2f", s.T)
		sessions[i] = opts.LineData{Value: s.Sessions}
		etcd[i] = opts.LineData{Value: s.EtcdHeld}
		if s.EtcdHeld < 0 {
			etcd[i].Value = "-" // etcd did not answer: no point
		}
		held[i] = opts.LineData{Value: s.Held}
		inUse[i] = opts.LineData{Value: s.InUse}
		waiting[i] = opts.LineData{Value: s.Waiting}
		cp[i] = opts.LineData{Value: r.Cap}
	}
	line.SetXAxis(xs).
		AddSeries("server sessions", sessions).
		AddSeries("permits held (etcd's sum)", etcd).
		AddSeries("permits held (processes' reports)", held).
		AddSeries("permits in use", inUse).
		AddSeries("dials waiting", waiting).
		AddSeries("cap", cp).
		SetSeriesOptions(charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(false)}))
	return line
}
