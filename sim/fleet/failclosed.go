package fleet

import (
	"fmt"
	"time"
)

// failClosed checks the second half of fail_closed: once etcd is down and a
// worker has shed (its report says it can no longer count on its lease and
// has no permit in use: no connection open, dialing or closing), it logs in
// no session at the server. With no lease, and no etcd to grant one, it can
// take no permit, so any later login of its is a session opened without one.
//
// The server's session count cannot tell when that moment has come. A worker
// whose lease is still valid can have every permit in a dial the server has
// not answered yet (a slow or loaded server: the server counts a session
// only once it accepts the login), and so no session counted at the server;
// those dials then log in, under permits taken while the lease was valid, as
// the protocol allows. A run on a loaded machine once saw exactly that when
// the check counted from the first moment the server had no session: all 10
// permits of the fleet logged in after it, reported as "10 sessions opened
// while etcd was down" (TestFailClosedAllowsDialsUnderPermitsTakenBeforeTheLapse
// shows it with slow logins).
//
// Each worker's logins are counted from when the runner first reads a
// report of it shed, taken after the last etcd member stopped. No permit in
// use means each of its dials has returned and given its permit back, and
// the server accepts a login before the dial returns: every login made
// under a permit is in the server's count before the report, so the runner,
// reading that count after it, takes none of them for a later one. A login
// between the report and the runner's reading of it (up to StatusEvery and
// a poll) goes unchecked.
type failClosed struct {
	// since is when the last etcd member stopped; reports taken before it
	// do not count.
	since time.Time
	// base is each worker's logins at the server when it was first seen
	// shed; -1 until then.
	base []int
}

func newFailClosed(workers int, since time.Time) *failClosed {
	f := &failClosed{since: since, base: make([]int, workers)}
	for i := range f.base {
		f.base[i] = -1
	}
	return f
}

// shed says whether s reports a worker that has shed since etcd stopped.
func (f *failClosed) shed(s Status) bool {
	return s.At.After(f.since) && !s.LeaseValid && s.InUse == 0
}

// observe notes the workers that statuses show shed, with their logins so
// far (logins(i) is worker i's at the server), and reports whether every
// worker has shed.
func (f *failClosed) observe(statuses []Status, logins func(worker int) int) bool {
	all := true
	for i, s := range statuses {
		if f.base[i] < 0 && f.shed(s) {
			f.base[i] = logins(i)
		}
		all = all && f.base[i] >= 0
	}
	return all
}

// violations names each worker that logged in after it was seen shed.
func (f *failClosed) violations(logins func(worker int) int) []string {
	var vs []string
	for i, b := range f.base {
		if b < 0 {
			continue
		}
		if n := logins(i) - b; n > 0 {
			vs = append(vs, fmt.Sprintf("fail_closed: worker %d logged in %d sessions while etcd was down, after it had no lease to count on and no permit in use", i, n))
		}
	}
	return vs
}

// loginName is the login the server records for worker's sessions of an
// identity: the sim's token names it (see runWorker), so that the server's
// count of logins tells the workers apart.
func loginName(worker, identity int) string { return fmt.Sprintf("w%d-id%d", worker, identity) }

// logins is how many sessions worker i logged in at the server, over every
// process that ran in its slot.
func (r *runner) logins(i int) int {
	n := 0
	for id := range r.cfg.Identities {
		n += r.srv.Logins(loginName(i, id))
	}
	return n
}
