package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/idpool/idpool/internal/etcdtest"
	simfleet "github.com/idpool/idpool/sim/fleet"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// `idpool sim --help` lists the fleet mode's flags, and `idpool sim --fleet
// N --help` prints the same help.
func TestSimHelpListsTheFleetFlags(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, exitOK, run(context.Background(), []string{"sim", "--help"}, &out, &errb))
	text := out.String()
	assert.Contains(t, text, "\nFleet mode flags (idpool sim --fleet N [flags]):\n")
	for _, f := range []string{"-fleet int", "-etcd string", "-cap int", "-ttl duration", "-etcd-outage", "-headroom int"} {
		assert.Contains(t, text, "  "+f, f)
	}
	assert.Contains(t, text, "idpool sim --fleet 3 ")
	assert.Contains(t, text, "apt-get install etcd-server")

	var again bytes.Buffer
	require.Equal(t, exitOK, run(context.Background(), []string{"sim", "--fleet", "3", "--help"}, &again, &errb))
	assert.Equal(t, text, again.String())
	assert.Empty(t, errb.String())
}

func TestSimFleetRejectsBadFlagsBeforeRunning(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--fleet", "0"}, "--fleet must be at least 1"},
		{[]string{"--fleet", "3", "--cap", "0"}, "--cap must be at least 1"},
		{[]string{"--fleet", "3", "--ttl", "1s"}, "--ttl must be at least 2s"},
		{[]string{"--fleet", "3", "--headroom", "-1"}, "--headroom must not be negative"},
		{[]string{"--fleet", "3", "--report", "/nonexistent/x.html"}, "--report /nonexistent/x.html: directory /nonexistent does not exist"},
		{[]string{"--fleet", "3", "--mode", "virtual"}, "flag provided but not defined: -mode (idpool sim --help lists the fleet mode's flags)"},
		{[]string{"--fleet", "3", "extra"}, "unexpected arguments"},
		{[]string{"--fleet", "3", "--etcd", "127.0.0.1:2379", "--etcd-outage"}, "--etcd-outage stops the etcd cluster the run starts itself"},
		{[]string{"--fleet", "3", "--etcd", "127.0.0.1:2379,"}, `--etcd "127.0.0.1:2379,": an empty endpoint`},
	} {
		start := time.Now()
		code, out, errOut := runCLI(t, c.args...)
		assert.Equal(t, exitUsage, code, c.args)
		assert.Contains(t, errOut, c.want, c.args)
		assert.Empty(t, out, c.args)
		assert.Less(t, time.Since(start), 5*time.Second, c.args)
	}
}

// An --etcd nobody answers on failed after 30 s with "timed out waiting
// until every worker holds a lease and serves" and a dump of the workers'
// counters, naming neither etcd nor the endpoint; it now fails within the
// reach timeout the help states, before any worker starts.
func TestSimFleetUnreachableEtcdFailsWithinTheStatedTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now

	var out, errb bytes.Buffer
	require.Equal(t, exitOK, run(context.Background(), []string{"sim", "--help"}, &out, &errb))
	assert.Contains(t, out.String(), "must answer within "+simfleet.EtcdReachTimeout.String())

	start := time.Now()
	code, _, errOut := runCLI(t, "--fleet", "1", "--etcd", addr, "--quiet")
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, errOut, "etcd "+addr+" unreachable (tried for up to 5s)")
	assert.Less(t, time.Since(start), simfleet.EtcdReachTimeout+5*time.Second)
}

// --headroom left out takes simfleet's default (one session per process);
// an explicit 0 means no headroom at all, not the default.
func TestSimFleetHeadroomZeroMeansNone(t *testing.T) {
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"--fleet", "3"}, 0},
		{[]string{"--fleet", "3", "--headroom", "0"}, -1},
		{[]string{"--fleet", "3", "--headroom=2"}, 2},
	} {
		var ff fleetFlags
		fs := newFleetFlagSet(&ff)
		require.NoError(t, fs.Parse(c.args))
		assert.Equal(t, c.want, ff.simConfig(fs).Headroom, c.args)
	}
}

// A short fleet run against an etcd it starts itself: the JSON report shows
// the permits (etcd's peak within the cap, dials that waited, fetches
// refused) and no violation, and the HTML report charts them.
func TestSimFleetWritesJSONAndHTMLReports(t *testing.T) {
	if _, err := etcdtest.Binary(); err != nil && os.Getenv(etcdtest.RequireEnv) != "1" {
		t.Skip(err)
	}
	file := filepath.Join(t.TempDir(), "fleet.html")
	// A TTL of 4s, not the minimum 2s: lease_kept needs what is left of a
	// lease when the etcd leader stops (TTL less its margin less up to
	// TTL/3 since the last renewal: 0.83 s at 2s, 1.87 s at 4s) to outlast
	// the failover, which took 1.0-1.4 s here under -race and 2.2 s once
	// under load.
	code, out, errOut := runCLI(t, "--fleet", "2", "--cap", "6", "--ttl", "4s", "--phase", "300ms", "--json", "--report", file)
	require.Equal(t, exitOK, code, "%s\n%s", out, errOut)
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &m), out)
	assert.Equal(t, "fleet", m["mode"])
	assert.EqualValues(t, 2, m["processes"])
	assert.Equal(t, []any{}, m["violations"])
	p := m["permits"].(map[string]any)
	assert.Positive(t, p["peak_held"].(float64))
	assert.LessOrEqual(t, p["peak_held"].(float64), 6.0)
	assert.EqualValues(t, 8, m["server_limit"], "cap + the default headroom, 1 per process")
	assert.LessOrEqual(t, m["peak_sessions"].(float64), 8.0)
	assert.EqualValues(t, 100, m["over_cap_bound_ms"])
	assert.LessOrEqual(t, m["over_cap_longest_ms"].(float64), 100.0)
	assert.Positive(t, p["fetches"].(float64))
	assert.Len(t, m["per_process"], 2)
	assert.Contains(t, errOut, "fleet sim:", "progress lines on stderr")
	html, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Contains(t, string(html), "Fleet permits and server sessions")
	assert.Contains(t, string(html), "every fleet invariant held")
}
