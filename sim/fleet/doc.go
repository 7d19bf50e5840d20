// Package fleet simulates a fleet of idpool processes sharing one etcd
// session budget (package fleet at the module root) against one sim/tds
// server that enforces a session limit and counts sessions itself.
//
// Run starts the server (and an etcd cluster from the installed binary when
// no endpoints are given), spawns N worker processes as real OS processes,
// each a Manager with a fleet budget and many identities contending for the
// cap, and injects faults: a SIGKILL of a worker, an etcd member stop, a
// leader change and, optionally, a stop of the whole etcd cluster. It checks
// the fleet_over_cap invariant from the server's own count and reports the
// time the fleet took to recover from each fault.
//
// Workers are the caller's own binary run again: the caller spawns it with
// the environment variable WorkerEnv set, and its main (or TestMain) calls
// MaybeWorker first thing.
package fleet
