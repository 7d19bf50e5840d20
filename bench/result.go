package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Metric names used in results. Durations are in the unit their name says.
const (
	MNsPerOp        = "ns_per_op"     // wall time per operation, over all goroutines (1/throughput)
	MAllocsPerOp    = "allocs_per_op" // heap allocations per operation
	MBytesPerOp     = "bytes_per_op"
	MOpsPerSec      = "ops_per_sec"
	MP50            = "p50_us" // acquire wait percentiles
	MP99            = "p99_us"
	MP999           = "p999_us"
	MMax            = "max_us"
	MMean           = "mean_us"
	MFairness       = "fairness" // max wait / mean wait
	MBytesPerIdent  = "heap_bytes_per_identity"
	MPoolBytesIdent = "pool_bytes_per_identity" // less the connection's own memory
	MGoroutinesPer  = "goroutines_per_identity"
	// MRetiredBytes is the live heap kept per identity whose pool has
	// retired (many_identities, measure=retired).
	MRetiredBytes = "retired_heap_bytes_per_identity"
	// MReleaseP99 is the 99th percentile of Release's own duration, µs
	// (overload_tail): how long a caller lends its goroutine to the pool.
	MReleaseP99    = "release_p99_us"
	MMsgsPerSec    = "msgs_per_sec"
	MMintsPer1000  = "mints_per_1000_acquires"
	MOpens         = "physical_opens"
	MQueriesPerSec = "queries_per_sec"
)

// requiredMetrics appear in every result's JSON, as null when the scenario
// does not measure them, so consumers can rely on the keys.
var requiredMetrics = []string{MNsPerOp, MAllocsPerOp, MP50, MP99, MP999, MMax}

// Param is one parameter of a measurement.
type Param struct {
	Key   string
	Value any
}

// Params are a measurement's parameters in a fixed order; they encode as a
// JSON object.
type Params []Param

// Get returns the value of key, or nil.
func (ps Params) Get(key string) any {
	for _, p := range ps {
		if p.Key == key {
			return p.Value
		}
	}
	return nil
}

// String renders the params as "k=v k=v" in order.
func (ps Params) String() string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%v", p.Key, p.Value)
	}
	return b.String()
}

// MarshalJSON encodes the params as an object, keys in order.
func (ps Params) MarshalJSON() ([]byte, error) {
	return orderedObject(len(ps), func(i int) (string, any) { return ps[i].Key, ps[i].Value })
}

// orderedObject encodes n key/value pairs as a JSON object in the given
// order (encoding/json sorts map keys; the report keeps the order it chose).
func orderedObject(n int, pair func(i int) (string, any)) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		key, value := pair(i)
		k, _ := json.Marshal(key)
		v, err := json.Marshal(value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Result is one peer's figures for one measurement: medians over the runs.
type Result struct {
	Scenario string
	Pool     string
	Params   Params
	// Metrics holds the median of each figure over the runs.
	Metrics map[string]float64
	// Primary names the figure Spread describes (and ratios compare).
	Primary string
	Spread  Summary
	// Note explains a skipped measurement or a caveat.
	Note    string
	Skipped bool
}

// Metric returns the named figure and whether it was measured.
func (r Result) Metric(name string) (float64, bool) {
	v, ok := r.Metrics[name]
	return v, ok && !math.IsNaN(v)
}

// MarshalJSON writes the fixed keys first (null when not measured),
// then every other metric in name order, then the spread.
func (r Result) MarshalJSON() ([]byte, error) {
	type kv struct {
		k string
		v any
	}
	fields := []kv{{"scenario", r.Scenario}, {"pool", r.Pool}, {"params", r.Params}}
	if r.Params == nil {
		fields[2].v = Params{}
	}
	for _, m := range requiredMetrics {
		if v, ok := r.Metric(m); ok {
			fields = append(fields, kv{m, jsonNum(v)})
		} else {
			fields = append(fields, kv{m, nil})
		}
	}
	var rest []string
	for k := range r.Metrics {
		if !slices.Contains(requiredMetrics, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	for _, k := range rest {
		if v, ok := r.Metric(k); ok {
			fields = append(fields, kv{k, jsonNum(v)})
		}
	}
	if r.Primary != "" {
		fields = append(fields, kv{"primary", r.Primary}, kv{"runs", r.Spread.Runs},
			kv{"min", jsonNum(r.Spread.Min)}, kv{"max", jsonNum(r.Spread.Max)}, kv{"spread_pct", jsonNum(r.Spread.SpreadPct)})
	}
	if r.Skipped {
		fields = append(fields, kv{"skipped", true})
	}
	if r.Note != "" {
		fields = append(fields, kv{"note", r.Note})
	}
	return orderedObject(len(fields), func(i int) (string, any) { return fields[i].k, fields[i].v })
}

// jsonNum rounds to what a measurement can claim (4 significant digits) and
// keeps infinities out of JSON, which has none.
func jsonNum(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	if v == 0 {
		return 0.0
	}
	mag := math.Pow(10, 3-math.Floor(math.Log10(math.Abs(v))))
	return math.Round(v*mag) / mag
}
