package fleet

import (
	"fmt"
	"io"
	"time"
)

// Report is what a fleet simulation measured.
type Report struct {
	Workers int
	// Cap is the fleet's cap; Limit the server's session limit (Cap plus
	// Config.Headroom).
	Cap, Limit int
	TTL        time.Duration
	// PeakSessions is the most sessions the server had at once;
	// LimitRefusals the logins it refused at its limit (the cap).
	PeakSessions, LimitRefusals int
	// Totals over every worker process.
	Acquires, Failures, Dials, Fetches, Refused, LeaseLosses uint64
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
	// EtcdDownShed is the time from stopping all of etcd until the server
	// had no session left; EtcdRecovery from restarting it until sessions
	// were open again.
	EtcdDownShed, EtcdRecovery time.Duration
	// Violations lists every broken invariant; empty on success.
	Violations []string
}

// Write prints the report.
func (r *Report) Write(w io.Writer) {
	ms := func(d time.Duration) string {
		if d == 0 {
			return "-"
		}
		return d.Round(time.Millisecond).String()
	}
	fmt.Fprintf(w, "fleet: %d processes, cap %d sessions, lease TTL %s\n", r.Workers, r.Cap, r.TTL)
	fmt.Fprintf(w, "  server peak sessions     %d (cap %d, server limit %d), logins refused at the limit %d\n", r.PeakSessions, r.Cap, r.Limit, r.LimitRefusals)
	fmt.Fprintf(w, "  acquires                 %d served, %d failed (timeouts while the fleet was full or etcd down)\n", r.Acquires, r.Failures)
	fmt.Fprintf(w, "  physical opens           %d, mean %s; permit fetches %d, mean %s; refused (fleet full) %d\n", r.Dials, ms(r.MeanDial), r.Fetches, ms(r.MeanFetch), r.Refused)
	if r.Dials > 0 {
		fmt.Fprintf(w, "  etcd time per open       %s (fetch time spread over every physical open)\n",
			(time.Duration(r.Fetches) * r.MeanFetch / time.Duration(r.Dials)).Round(10*time.Microsecond))
	}
	fmt.Fprintf(w, "  SIGKILL permit recovery  %s (bound %s)\n", ms(r.KillRecovery), ms(r.KillBound))
	fmt.Fprintf(w, "  etcd leader stop         every lease renewed again after %s\n", ms(r.LeaderStopResume))
	fmt.Fprintf(w, "  etcd leader change       every lease renewed again after %s\n", ms(r.LeaderMoveResume))
	fmt.Fprintf(w, "  etcd fully down          sessions shed after %s; back %s after restart\n", ms(r.EtcdDownShed), ms(r.EtcdRecovery))
	fmt.Fprintf(w, "  lease losses             %d\n", r.LeaseLosses)
	if len(r.Violations) == 0 {
		fmt.Fprintln(w, "  violations               0 (fleet_over_cap, kill_recovery, fail_closed)")
		return
	}
	fmt.Fprintf(w, "  violations               %d\n", len(r.Violations))
	for _, v := range r.Violations {
		fmt.Fprintln(w, "    - "+v)
	}
}
