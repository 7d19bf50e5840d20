package report

import (
	"sort"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Result is everything a run reports. Its JSON form is what `idpool sim
// --json` prints; in virtual mode it depends only on the workload and the
// seed, so two runs print the same bytes.
type Result struct {
	Mode string `json:"mode"`
	// Backend is what live mode ran against ("" in virtual mode).
	Backend    string  `json:"backend,omitempty"`
	Seed       uint64  `json:"seed"`
	DurationS  float64 `json:"duration_s"`
	Identities int     `json:"identities"`
	// IdentitiesUsed counts distinct identities that acquired (one-shot
	// ones included).
	IdentitiesUsed int    `json:"identities_used"`
	Workers        int    `json:"workers"`
	Arrival        string `json:"arrival"`
	InjectedBug    string `json:"injected_bug,omitempty"`
	// Interrupted says a signal stopped the run before its duration or
	// operation count: its checks cover only the part that ran.
	Interrupted bool `json:"interrupted,omitempty"`

	Acquires      uint64 `json:"acquires"`
	Granted       uint64 `json:"granted"`
	Hits          uint64 `json:"hits"`
	PhysicalOpens uint64 `json:"physical_opens"`
	TokenMints    uint64 `json:"token_mints"`
	Rotations     uint64 `json:"rotations"`
	StaleDrained  uint64 `json:"stale_drained"`
	PoolsCreated  uint64 `json:"pools_created"`
	PoolsRetired  uint64 `json:"pools_retired"`
	// RetiresRefused counts retirement requests the manager turned down
	// because an acquire was in flight to the pool.
	RetiresRefused uint64 `json:"retires_refused"`
	// DirectSends counts acquires callers sent straight to a pool over its
	// route (virtual mode), skipping the manager.
	DirectSends    uint64            `json:"direct_sends"`
	Timeouts       uint64            `json:"timeouts"`
	Errors         uint64            `json:"errors"`
	ErrorsByKind   map[string]uint64 `json:"errors_by_kind"`
	Ops            map[string]uint64 `json:"ops"`
	Closes         map[string]uint64 `json:"closes"`
	SessionsKilled uint64            `json:"sessions_killed"`
	TokenOutages   uint64            `json:"token_outages"`

	AcquireLatencyUS Latency    `json:"acquire_latency_us"`
	Violations       Violations `json:"violations"`
	// ViolationSamples describes the first few violations found.
	ViolationSamples []string `json:"violation_samples,omitempty"`
	// Suspects counts, by name, what a live-mode check saw but cannot
	// attribute to the pool for certain, because wall-clock timing decides
	// it (a goroutine slow to run under load looks the same): "fifo_overtake",
	// "token_expired_during_lease" and "late_answer". They are reported and never count as
	// violations, so scheduling noise cannot fail a run. Virtual mode, whose
	// time is exact, has none.
	Suspects map[string]uint64 `json:"suspects,omitempty"`
	// SuspectSamples describes the first few suspects of each kind.
	SuspectSamples []string `json:"suspect_samples,omitempty"`

	// Series is sampled during the run, for the HTML charts; it is left out
	// of the JSON.
	Series []Sample `json:"-"`
	// LatencyHist is the acquire latency histogram (µs), for the charts.
	LatencyHist *hdrhistogram.Histogram `json:"-"`
	// WallS and AcquiresPerWallS describe the run's own speed; they vary
	// between runs, so they are left out of the JSON in virtual mode.
	WallS            float64 `json:"wall_s,omitempty"`
	AcquiresPerWallS float64 `json:"acquires_per_wall_s,omitempty"`
}

// Violations counts each invariant's violations; all zero is a clean run.
type Violations struct {
	// CrossIdentity: a connection used by a worker was logged in as another
	// identity.
	CrossIdentity uint64 `json:"cross_identity"`
	// DoubleLease: a connection granted while another lease held it.
	DoubleLease uint64 `json:"double_lease"`
	// OverMax: a pool (or all pools, with a total cap) over its limit.
	OverMax uint64 `json:"over_max"`
	// ExpiredTokenUse: a connection used after its login token expired.
	ExpiredTokenUse uint64 `json:"expired_token_use"`
	// LostWaiters: acquires neither granted nor failed by their deadline.
	LostWaiters uint64 `json:"lost_waiters"`
	// LeakedConns: connections still open after Close.
	LeakedConns uint64 `json:"leaked_conns"`
	// FIFOViolations: a later waiter of a pool granted before an earlier
	// one while both were eligible.
	FIFOViolations uint64 `json:"fifo_violations"`
	// DirtyCheckout: a lease began with a transaction its previous user
	// left open (live mode).
	DirtyCheckout uint64 `json:"dirty_checkout"`
	// ClosedWhileLeased: the pool closed a connection a worker held.
	ClosedWhileLeased uint64 `json:"closed_while_leased"`
	// StaleLeaseUse: a call on a lease after its Release reached the
	// connection, which may by then serve another worker.
	StaleLeaseUse uint64 `json:"stale_lease_use"`
	// StateMachine counts steps after which actors.Pool.CheckInvariants
	// failed (virtual mode).
	StateMachine uint64 `json:"state_machine"`
	// Churn: a pool opened connections with no demand, beyond refilling
	// MinSize after real losses (virtual mode: checked over a rest period
	// with no traffic at the end of the run).
	Churn uint64 `json:"churn"`
	// LostToRetirement: an acquire reached a pool after the manager agreed
	// to its retirement, or after it stopped (virtual mode: callers send
	// straight to pools over their routes).
	LostToRetirement uint64 `json:"lost_to_retirement"`
	// RouteToStopped: a route still published, or used, for a pool the
	// manager stopped.
	RouteToStopped uint64 `json:"route_to_stopped"`
	// RouteBeforeStart: an acquire reached a pool before its Start.
	RouteBeforeStart uint64 `json:"route_before_start"`
}

// Total sums every violation.
func (v Violations) Total() uint64 {
	return v.CrossIdentity + v.DoubleLease + v.OverMax + v.ExpiredTokenUse + v.LostWaiters +
		v.LeakedConns + v.FIFOViolations + v.DirtyCheckout + v.ClosedWhileLeased + v.StateMachine +
		v.Churn + v.StaleLeaseUse + v.LostToRetirement + v.RouteToStopped + v.RouteBeforeStart
}

// ByName returns the count of the violation with the given JSON name.
func (v Violations) ByName(name string) (uint64, bool) {
	for _, e := range v.list() {
		if e.name == name {
			return e.n, true
		}
	}
	return 0, false
}

type namedCount struct {
	name string
	n    uint64
}

func (v Violations) list() []namedCount {
	return []namedCount{
		{"cross_identity", v.CrossIdentity}, {"double_lease", v.DoubleLease}, {"over_max", v.OverMax},
		{"expired_token_use", v.ExpiredTokenUse}, {"lost_waiters", v.LostWaiters}, {"leaked_conns", v.LeakedConns},
		{"fifo_violations", v.FIFOViolations}, {"dirty_checkout", v.DirtyCheckout}, {"closed_while_leased", v.ClosedWhileLeased}, {"state_machine", v.StateMachine},
		{"churn", v.Churn}, {"stale_lease_use", v.StaleLeaseUse},
		{"lost_to_retirement", v.LostToRetirement}, {"route_to_stopped", v.RouteToStopped}, {"route_before_start", v.RouteBeforeStart},
	}
}

// Latency is a set of percentiles in microseconds.
type Latency struct {
	P50  int64 `json:"p50"`
	P99  int64 `json:"p99"`
	P999 int64 `json:"p999"`
	Max  int64 `json:"max"`
}

// LatencyOf reads the percentiles of h (zero for nil or empty).
func LatencyOf(h *hdrhistogram.Histogram) Latency {
	if h == nil || h.TotalCount() == 0 {
		return Latency{}
	}
	return Latency{P50: h.ValueAtQuantile(50), P99: h.ValueAtQuantile(99), P999: h.ValueAtQuantile(99.9), Max: h.Max()}
}

// NewLatencyHist returns a histogram for acquire latencies: 1 µs to one
// hour at three significant digits.
func NewLatencyHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, 3_600_000_000, 3)
}

// Sample is one point of the time series.
type Sample struct {
	// T is seconds since the start (virtual seconds in virtual mode).
	T float64
	// Acquires, TokenMints and Violations are cumulative.
	Acquires, TokenMints, Violations uint64
	// Open physical connections, Waiters queued, live Pools.
	Open, Waiters, Pools int
}

// Snapshot is what a progress line shows.
type Snapshot struct {
	Mode string
	// Elapsed and Total are seconds (virtual ones in virtual mode); Total is
	// 0 when the run ends by operation count.
	Elapsed, Total float64
	// WallElapsed is real seconds since the start.
	WallElapsed float64
	Acquires    uint64
	// Rate is acquires per wall-clock second since the start.
	Rate                 float64
	Pools, Open, Waiters int
	Violations           uint64
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]uint64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
