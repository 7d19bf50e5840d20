package workload

import "sort"

// Bug is a mistake compiled into the simulation harness (never into the
// pool) that --inject-bug switches on, to prove the invariant checker sees
// the class of failure it names.
type Bug struct {
	Name string
	// Violation is the invariant that must catch it (a key of the report's
	// violations object).
	Violation string
	// What the bug does.
	What string
	// Needs is the flags of `idpool sim` without which the bug rarely or
	// never gets a chance to strike in the default workload (empty: none).
	// A run that never gave it one proves nothing of the checker, so the
	// verdict of a bug not caught names them.
	Needs string
}

var bugs = []Bug{
	{"cross-identity", "cross_identity", "hands a worker a connection logged in as another identity", ""},
	{"double-grant", "double_lease", "grants a connection to a second waiter while the first still holds it", ""},
	{"reorder-grants", "fifo_violations", "serves a later waiter of a pool before an earlier, eligible one", ""},
	{"ignore-max", "over_max", "opens an extra connection for a pool that is already at its max size", ""},
	{"expired-token", "expired_token_use", "tells the pool tokens expire later than they do, so connections outlive their token", ""},
	{"drop-reply", "lost_waiters", "drops an acquire's reply on the floor", ""},
	{"leak-close", "leaked_conns", "reports a close as done without closing the connection", ""},
	{"steal-for-fill", "churn", "under MaxTotal, queues a pool's MinSize fill like demand and takes a connection from another pool for it, which then refills in turn", "--min-size 1 --max-total 10"},
	{"skip-sent-check", "lost_to_retirement", "agrees to a pool's retirement without comparing the acquires sent over its route with those it has seen, so an acquire on its way reaches a retired pool", "--mailbox-latency 1ms --pool-idle-timeout 20ms"},
	{"early-route", "route_before_start", "publishes a new pool's route before the pool has started, so an acquire reaches it before its Start", ""},
	{"keep-route", "route_to_stopped", "keeps a pool's route published after the manager withdrew it, so it outlives the pool", ""},
	{"skip-lease-guard", "stale_lease_use", "turns the lease guard off, so a worker calling on its lease after Release reaches the connection (live mode: the manager's own guard, through an internal test hook)", ""},
}

// LiveBugs lists the bugs live mode can inject: the others live in the
// virtual harness only.
func LiveBugs() []string { return []string{"skip-lease-guard"} }

// Bugs lists every injectable bug.
func Bugs() []Bug { return append([]Bug(nil), bugs...) }

// BugNames lists the bug names, sorted.
func BugNames() []string {
	names := make([]string, len(bugs))
	for i, b := range bugs {
		names[i] = b.Name
	}
	sort.Strings(names)
	return names
}

// LookupBug finds a bug by name.
func LookupBug(name string) (Bug, bool) {
	for _, b := range bugs {
		if b.Name == name {
			return b, true
		}
	}
	return Bug{}, false
}
