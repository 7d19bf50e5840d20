// Package live runs a workload through the real idpool actor system, in
// real time, with real goroutine workers, against a Backend: a server and
// token endpoints with fault switches, and the manager in front of them.
//
// The runner owns the workload (arrivals, identities, hold times, the query
// mix, fault schedules) and the checks that need no inside knowledge:
// every operation asks the server who it is logged in as (cross_identity),
// sessions are tracked from grant to release (double_lease), every acquire
// must return by its deadline (lost_waiters), and grants of one identity
// that clearly overtake an earlier waiter are noted as suspects
// (fifo_overtake, never a violation: see fifo.go).
// The backend reports what only the server sees: sessions per identity
// (over_max), statements on a session whose token had expired
// (expired_token_use) and sessions still open after Close (leaked_conns).
package live
