// Package report holds what a simulation run found (Result: counts,
// invariant violations, latency percentiles, time series) and writes it as
// a human summary, as one JSON object, or as a self-contained HTML page with
// charts. Progress lines during a run come from Snapshot values.
package report
