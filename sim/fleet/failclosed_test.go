package fleet

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/idpool/idpool/internal/etcdtest"
	"github.com/idpool/idpool/sim/report"
	"github.com/stretchr/testify/require"
)

// With every login answered 300ms late while etcd is down (a slow or loaded
// server), the fleet's permits sit in dials: the server counts no session
// while every lease is still valid, then those dials log in under permits
// taken while their leases were valid, which the protocol allows and
// fail_closed must too. A loaded machine once made
// TestFleetOfProcessesNeverPassesTheCap see just that: no session at the
// server right after etcd stopped, then all 10 permits logging in, reported
// as "10 sessions opened while etcd was down".
func TestFailClosedAllowsDialsUnderPermitsTakenBeforeTheLapse(t *testing.T) {
	if _, err := etcdtest.Binary(); err != nil && os.Getenv(etcdtest.RequireEnv) != "1" {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var log strings.Builder
	rep, err := Run(ctx, Config{Workers: 3, Cap: 10, TTL: 4 * time.Second, StopEtcd: true,
		outageLoginLatency: 300 * time.Millisecond, Log: &log})
	var out strings.Builder
	if rep != nil {
		require.NoError(t, report.WriteFleetText(&out, rep))
	}
	t.Log("\n" + out.String() + log.String())
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if len(rep.Violations) > 0 {
		t.Fatalf("violations: %v", rep.Violations)
	}
}

// fail_closed counts a worker's logins only from its first report, taken
// after etcd stopped, that says it has shed: logins before (dials under
// permits taken while its lease was valid, with no session at the server
// meanwhile) pass, one after is a violation, for that worker alone.
func TestFailClosedCountsLoginsAfterAWorkerShed(t *testing.T) {
	stopped := time.Now()
	logins := []int{5, 7}
	count := func(i int) int { return logins[i] }
	f := newFailClosed(2, stopped)
	valid := Status{At: stopped.Add(time.Millisecond), LeaseValid: true, InUse: 4}
	dialing := Status{At: stopped.Add(time.Millisecond), InUse: 2} // lapsed, dials in flight
	shed := Status{At: stopped.Add(2 * time.Millisecond)}
	before := Status{At: stopped.Add(-time.Millisecond)} // taken before etcd stopped

	require.False(t, f.observe([]Status{{}, before}, count), "a placeholder and a report from before the stop are not shed")
	require.False(t, f.observe([]Status{valid, dialing}, count))
	logins[0], logins[1] = 9, 10 // dials under permits taken while the leases were valid
	require.False(t, f.observe([]Status{shed, dialing}, count), "worker 1 still has permits in use")
	logins[1] = 12
	require.True(t, f.observe([]Status{shed, shed}, count))
	require.Empty(t, f.violations(count))

	logins[1]++ // worker 1 logs in once more, with no lease and no permit
	vs := f.violations(count)
	require.Equal(t, []string{"fail_closed: worker 1 logged in 1 sessions while etcd was down, after it had no lease to count on and no permit in use"}, vs)
	require.True(t, f.observe([]Status{shed, valid}, count), "a worker seen shed stays so")
	require.Len(t, f.violations(count), 1, "counted from the first report of it shed")
}
