// Package bench measures idpool side by side with the pools Go services use
// today, on the same in-memory connections (sim/memdb), so that only the pool
// differs; end to end alone runs over real servers (sim/tds and PostgreSQL,
// database/sql against idpool's facade). It holds the peers (database/sql,
// github.com/jackc/puddle/v2, a buffered channel, idpool), the scenarios (hot
// path, overload tail, many identities, metrics, mailbox, token economy, end
// to end), and the runner behind `idpool bench`.
//
// The runner interleaves the peers run by run: within one measurement every
// peer runs once, then every peer runs again, so drift of a shared machine
// (other tenants, CPU frequency, GC of earlier work) hits them alike. Each
// figure is the median of at least five runs, reported with its spread
// (max-min as a share of the median).
//
// The testing.B benchmarks in this package drive the same peers for use with
// `go test -bench`, pprof and benchstat.
package bench
