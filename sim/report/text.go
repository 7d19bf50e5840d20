package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes r as one JSON object and a newline.
func WriteJSON(w io.Writer, r *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the human summary of r.
func WriteText(w io.Writer, r *Result) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	src := r.Mode
	if r.Backend != "" {
		src += " (" + r.Backend + ")"
	}
	p("idpool sim: %s mode, seed %d, %.1fs", src, r.Seed, r.DurationS)
	if r.Mode == "virtual" {
		p(" of virtual time")
	}
	if r.WallS > 0 {
		p(", %.1fs wall", r.WallS)
	}
	p("\n")
	if r.Interrupted {
		p("interrupted: the run was stopped before its end; what follows covers only the part that ran\n")
	}
	if r.InjectedBug != "" {
		p("injected bug: %s\n", r.InjectedBug)
	}
	p("workload: %d identities (%d used), %s arrivals", r.Identities, r.IdentitiesUsed, r.Arrival)
	if r.Arrival == "closed" {
		p(", %d workers", r.Workers)
	}
	p("\n\n")

	p("acquires        %d (granted %d, timeouts %d, errors %d)\n", r.Acquires, r.Granted, r.Timeouts, r.Errors)
	if r.AcquiresPerWallS > 0 {
		p("throughput      %.0f acquires per wall-clock second\n", r.AcquiresPerWallS)
	}
	l := r.AcquireLatencyUS
	p("acquire latency p50 %s  p99 %s  p99.9 %s  max %s\n", us(l.P50), us(l.P99), us(l.P999), us(l.Max))
	hitPct := 0.0
	if r.Granted > 0 {
		hitPct = 100 * float64(r.Hits) / float64(r.Granted)
	}
	p("pool hits       %d (%.1f%% of grants) vs %d physical opens\n", r.Hits, hitPct, r.PhysicalOpens)
	p("tokens          %d mints, %d rotations handled, %d stale connections drained\n", r.TokenMints, r.Rotations, r.StaleDrained)
	p("pools           %d created, %d retired (%d retirements refused: acquire in flight)\n", r.PoolsCreated, r.PoolsRetired, r.RetiresRefused)
	p("faults          %d sessions killed, %d token endpoint outages\n", r.SessionsKilled, r.TokenOutages)
	if len(r.Ops) > 0 {
		p("operations     ")
		for _, k := range sortedKeys(r.Ops) {
			p(" %s %d", k, r.Ops[k])
		}
		p("\n")
	}
	if len(r.Closes) > 0 {
		p("closes by reason")
		for _, k := range sortedKeys(r.Closes) {
			p(" %s %d", k, r.Closes[k])
		}
		p("\n")
	}
	if len(r.ErrorsByKind) > 0 {
		p("errors by kind ")
		for _, k := range sortedKeys(r.ErrorsByKind) {
			p(" %s %d", k, r.ErrorsByKind[k])
		}
		p("\n")
	}
	p("\ninvariants\n")
	for _, v := range r.Violations.list() {
		mark := "ok"
		switch {
		case v.n > 0:
			mark = "VIOLATED"
		case r.Mode == "live" && virtualOnly[v.name]:
			mark = "(checked in virtual mode only)"
		case r.Mode == "virtual" && v.name == "dirty_checkout":
			mark = "(checked in live mode only)"
		}
		p("  %-20s %8d  %s\n", v.name, v.n, mark)
	}
	for _, s := range r.ViolationSamples {
		p("  - %s\n", s)
	}
	if len(r.Suspects) > 0 {
		p("suspects (timing decides them in live mode: reported, not violations)\n")
		for _, k := range sortedKeys(r.Suspects) {
			p("  %-28s %8d\n", k, r.Suspects[k])
		}
		for _, s := range r.SuspectSamples {
			p("  - %s\n", s)
		}
	}
	if t := r.Violations.Total(); t == 0 {
		p("%s\n", heldVerdict(r))
	} else {
		p("%d violations\n", t)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// virtualOnly are the invariants that need the state machine's effects, or
// the virtual simulator's view of the manager's routes and retirements
// (churn, lost_to_retirement, route_to_stopped, route_before_start), which
// sim/live never counts. fifo_violations too: live mode cannot see the
// pool's order of arrival, so its overtakes are suspects.
var virtualOnly = map[string]bool{"closed_while_leased": true, "state_machine": true, "fifo_violations": true,
	"churn": true, "lost_to_retirement": true, "route_to_stopped": true, "route_before_start": true}

// us prints microseconds readably.
func us(v int64) string {
	switch {
	case v >= 1_000_000:
		return fmt.Sprintf("%.2fs", float64(v)/1e6)
	case v >= 1000:
		return fmt.Sprintf("%.2fms", float64(v)/1e3)
	default:
		return fmt.Sprintf("%dµs", v)
	}
}

// heldVerdict is the verdict of a run without violations: an interrupted
// run vouches only for the part that ran.
func heldVerdict(r *Result) string {
	if r.Interrupted {
		return "all invariants held in the part that ran (interrupted)"
	}
	return "all invariants held"
}
