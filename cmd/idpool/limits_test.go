package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Huge values were taken as given: --identities 1000000000000 and --workers
// 100000000 ran out of memory with a runtime trace, --runs 1000000000000
// would have kept that many runs, --rate 1e12 spun at one instant and
// reported the pool for it, --acquire-timeout 1000h and --mailbox-latency
// 2m made a virtual run report violations the pool never made. Each is now
// refused before any work, naming the flag, its bound and the value.
func TestHugeValuesAreRefusedNamingTheFlagAndTheBound(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sim", "--identities", "1000000000000"}, "--identities must be at most 1000000 (got 1000000000000)"},
		{[]string{"sim", "--mode", "virtual", "--workers", "100000000"}, "--workers must be at most 10000 (got 100000000)"},
		{[]string{"sim", "--duration", "1000000h"}, "--duration must be at most 1000h (got 1000000h0m0s)"},
		{[]string{"sim", "--mode", "virtual", "--arrival", "poisson", "--rate", "1e12"}, "--rate must be at most 100000 (got 1e+12)"},
		{[]string{"sim", "--max-size", "1000000000"}, "--max-size must be at most 10000 (got 1000000000)"},
		{[]string{"sim", "--min-size", "1000000", "--max-size", "10000"}, "--min-size must be at most 1000 (got 1000000)"},
		{[]string{"sim", "--mode", "virtual", "--acquire-timeout", "1000h"}, "--acquire-timeout must be at most 1m (got 1000h0m0s)"},
		{[]string{"sim", "--mode", "virtual", "--mailbox-latency", "2m"}, "--mailbox-latency must be at most 1s (got 2m0s)"},
		{[]string{"sim", "--mode", "virtual", "--hold", "exp:1000h"}, "--hold must have durations of at most 1m (got exp:1000h0m0s)"},
		{[]string{"sim", "--close-latency", "uniform:1ms:2h"}, "--close-latency must have durations of at most 1m (got uniform:1ms:2h0m0s)"},
		{[]string{"sim", "--kill-rate", "1e300"}, "--kill-rate must be at most 10000 (got 1e+300)"},
		{[]string{"sim", "--token-lifetime", "2562047h"}, "--token-lifetime must be at most 24h"},
		{[]string{"demo", "--identities", "1000000000000"}, "--identities must be at most 1000000 (got 1000000000000)"},
		{[]string{"demo", "--workers", "100000000"}, "--workers must be at most 10000 (got 100000000)"},
		{[]string{"demo", "--duration", "1000000h"}, "--duration must be at most 1000h"},
		{[]string{"bench", "--runs", "1000000000000"}, "--runs must be at most 1000 (got 1000000000000)"},
		{[]string{"bench", "--run-time", "1000h"}, "--run-time must be at most 1m (got 1000h0m0s)"},
		{[]string{"tds", "--token-lifetime", "1000000h"}, "--token-lifetime must be at most 24h (got 1000000h0m0s)"},
		{[]string{"sim", "--fleet", "100000"}, "--fleet must be at most 32 (got 100000)"},
		// Each within its bound, a billion sessions together.
		{[]string{"sim", "--mode", "virtual", "--identities", "1000000", "--min-size", "1000", "--max-size", "1000"}, "--identities × --min-size must be at most 100000 (got 1000000 × 1000)"},
		{[]string{"sim", "--fleet", "3", "--per-identity", "1000000"}, "--per-identity must be at most 100 (got 1000000)"},
		{[]string{"sim", "--fleet", "3", "--ttl", "1000h"}, "--ttl must be at most 1m (got 1000h0m0s)"},
	} {
		type result struct {
			code        int
			out, errOut string
		}
		done := make(chan result, 1)
		go func() {
			var out, errOut bytes.Buffer
			code := run(context.Background(), c.args, &out, &errOut)
			done <- result{code, out.String(), errOut.String()}
		}()
		select {
		case r := <-done:
			assert.Equal(t, exitUsage, r.code, c.args)
			assert.Contains(t, r.errOut, c.want, c.args)
			assert.Empty(t, r.out, c.args)
		case <-time.After(10 * time.Second):
			t.Fatalf("%v: still running after 10s: not refused up front", c.args)
		}
	}
}

// helpFlag matches a flag's two lines in --help: its name and type, then
// its usage.
var helpFlag = regexp.MustCompile(`(?m)^  -([\w-]+) (int|uint|float|duration|value)\n\s+(.*)$`)

// unbounded are the numeric flags that take any value their own checks
// allow: a seed, and settings that only ever stop or cap a run.
var unbounded = map[string]bool{"seed": true, "ops": true, "max-total": true, "max-waiters": true, "zipf": true, "mix": true}

// Every numeric flag of every command says its bound in --help (the bound
// the limits check enforces), so that a user meets no bound the help did
// not show, and a flag added later without one fails here.
func TestEveryNumericFlagShowsItsBoundInHelp(t *testing.T) {
	for _, name := range []string{"sim", "demo", "bench", "tds"} {
		var out, errb bytes.Buffer
		assert.Equal(t, exitOK, run(context.Background(), []string{name, "--help"}, &out, &errb), name)
		flags := helpFlag.FindAllStringSubmatch(out.String(), -1)
		assert.NotEmpty(t, flags, name)
		for _, f := range flags {
			if unbounded[f[1]] {
				continue
			}
			assert.Regexp(t, `\((at most |durations at most |[\d.]+\w* to )[\d.]+\w*\)`, f[3], "%s --%s shows no bound", name, f[1])
		}
	}
	for name := range simLimits {
		assert.False(t, unbounded[name], name)
	}
}
