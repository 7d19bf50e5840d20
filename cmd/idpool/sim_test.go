package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"sim"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestSimVirtualJSONIsReproducible(t *testing.T) {
	args := []string{"--mode", "virtual", "--seed", "7", "--duration", "2s", "--json"}
	code, a, _ := runCLI(t, args...)
	require.Equal(t, 0, code)
	_, b, _ := runCLI(t, args...)
	require.Equal(t, a, b, "same seed, same bytes")
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(a), &m))
	assert.Equal(t, "virtual", m["mode"])
	assert.EqualValues(t, 7, m["seed"])
	assert.NotContains(t, m, "wall_s")
}

func TestSimInjectedBugVerdict(t *testing.T) {
	code, out, errOut := runCLI(t, "--mode", "virtual", "--duration", "2s", "--inject-bug", "reorder-grants")
	assert.Equal(t, 0, code, "a caught bug is a success: %s", errOut)
	assert.Contains(t, out, "VIOLATED")
	code, _, errOut = runCLI(t, "--mode", "virtual", "--duration", "2s", "--inject-bug", "nope")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, `unknown bug "nope"`)
}

func TestSimLiveWritesHTMLReport(t *testing.T) {
	defer goleak.VerifyNone(t)
	file := filepath.Join(t.TempDir(), "r.html")
	code, out, errOut := runCLI(t, "--duration", "500ms", "--workers", "8", "--report", file)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "live (tds) mode")
	assert.Contains(t, out, "all invariants held")
	assert.Contains(t, errOut, "live", "plain progress lines go to stderr when it is not a terminal")
	html, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Contains(t, string(html), "Acquire latency")
}

func TestSimRejectsBadFlagsBeforeRunning(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--mode", "nope"}, `unknown mode "nope"`},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{[]string{"--report", "/nonexistent/x.html"}, "--report /nonexistent/x.html: directory /nonexistent does not exist"},
		{[]string{"--report", os.TempDir()}, "is a directory"},
		{[]string{"--inject-bug", "reorder-grants"}, "--inject-bug needs --mode virtual"},
		{[]string{"--mode", "virtual", "--backend", "memdb"}, "--backend applies to --mode live only"},
		{[]string{"--backend", "oracle"}, `unknown backend "oracle"`},
		{[]string{"--workers", "0"}, "workers must be at least 1"},
	} {
		start := time.Now()
		code, out, errOut := runCLI(t, c.args...)
		assert.Equal(t, exitUsage, code, c.args)
		assert.Contains(t, errOut, c.want, c.args)
		assert.Empty(t, out, c.args)
		// Refused before the 20-second run, not after it (the margin is
		// for a loaded machine; a run would take the full 20 s).
		assert.Less(t, time.Since(start), 15*time.Second, c.args)
	}
}

func TestSimInjectBugHelpSaysVirtualOnly(t *testing.T) {
	var out bytes.Buffer
	require.Equal(t, exitOK, run(context.Background(), []string{"sim", "--help"}, &out, &out))
	line := regexp.MustCompile(`(?s)-inject-bug string\n\s+[^\n]*`).FindString(out.String())
	assert.Contains(t, line, "--mode virtual only")
}

// NaN passes every bound the workload checks (NaN > 1 and NaN <= 1 are both
// false), and negative durations were taken as given: --zipf NaN never ended,
// --rate NaN reported a million violations of the pool, --mailbox-latency -1s
// panicked with a goroutine trace, --ops -5 ran as if 0.
func TestSimRefusesNaNInfAndNegativeValues(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--zipf", "NaN"}, "--zipf NaN: want a finite number"},
		{[]string{"--arrival", "poisson", "--rate", "nan"}, "--rate NaN: want a finite number"},
		{[]string{"--kill-rate", "+Inf"}, "--kill-rate +Inf: want a finite number"},
		{[]string{"--dial-error", "NaN"}, "--dial-error NaN: want a finite number"},
		{[]string{"--idle-timeout", "-1s"}, "--idle-timeout -1s: must not be negative"},
		{[]string{"--ops", "-5"}, "--ops must not be negative"},
		{[]string{"--mailbox-latency", "-1s"}, "--mailbox-latency -1s: must not be negative"},
		// Ran every operation as a select, without a word.
		{[]string{"--mix", "select=1,slow=NaN"}, "mix weight slow is NaN: want a finite number"},
	} {
		args := append([]string{"--mode", "virtual", "--duration", "1s", "--quiet"}, c.args...)
		type result struct {
			code        int
			out, errOut string
		}
		done := make(chan result, 1)
		go func() {
			code, out, errOut := runCLI(t, args...)
			done <- result{code, out, errOut}
		}()
		select {
		case r := <-done:
			assert.Equal(t, exitUsage, r.code, c.args)
			assert.Contains(t, r.errOut, c.want, c.args)
			assert.Empty(t, r.out, c.args)
		case <-time.After(10 * time.Second):
			t.Fatalf("%v: still running after 10s (a 1s virtual run takes well under one)", c.args)
		}
	}
}

// A report file that could not be written at the end (its directory gone)
// was returned in place of the summary: the verdict never reached stdout.
// The summary is printed, and the command fails for the report. (A live
// run: its first progress line, which removes the directory, comes while
// it runs.)
func TestSimPrintsItsSummaryWhenTheReportCannotBeWritten(t *testing.T) {
	gone := filepath.Join(t.TempDir(), "gone")
	require.NoError(t, os.Mkdir(gone, 0o700))
	var out bytes.Buffer
	progress := &removeOnFirstWrite{dir: gone}
	code := run(context.Background(), []string{"sim", "--backend", "memdb", "--duration", "1s",
		"--report", filepath.Join(gone, "r.html")}, &out, progress)
	require.NoError(t, progress.err)
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, out.String(), "all invariants held")
}

// A flag the run takes and never uses was accepted without a word, against
// checkSimFlags' promise: --rate with closed arrivals (the default),
// --workers or --think with poisson ones, the virtual simulator's latencies
// in a live run, --mint-latency with the tds backend. The user measured a
// setting that was not there; each is now refused, saying where it applies.
func TestSimRefusesFlagsTheRunWouldIgnore(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--mode", "virtual", "--rate", "5000"}, "--rate applies to --arrival poisson only"},
		{[]string{"--mode", "virtual", "--arrival", "poisson", "--workers", "8"}, "--workers applies to --arrival closed only"},
		{[]string{"--mode", "virtual", "--arrival", "poisson", "--think", "const:1ms"}, "--think applies to --arrival closed only"},
		{[]string{"--mailbox-latency", "1ms"}, "--mailbox-latency applies to --mode virtual only"},
		{[]string{"--backend", "memdb", "--close-latency", "const:1ms"}, "--close-latency applies to --mode virtual only"},
		{[]string{"--validate-latency", "const:1ms"}, "--validate-latency applies to --mode virtual only"},
		{[]string{"--mint-latency", "const:1ms"}, "--mint-latency applies to --backend memdb and --mode virtual only"},
	} {
		start := time.Now()
		code, out, errOut := runCLI(t, c.args...)
		assert.Equal(t, exitUsage, code, c.args)
		assert.Contains(t, errOut, c.want, c.args)
		assert.Empty(t, out, c.args)
		assert.Less(t, time.Since(start), 15*time.Second, c.args)
	}
	// Where they apply they are taken.
	for _, args := range [][]string{
		{"--mode", "virtual", "--arrival", "poisson", "--rate", "5000", "--mailbox-latency", "1ms", "--mint-latency", "const:1ms"},
		{"--backend", "memdb", "--mint-latency", "const:1ms", "--workers", "4", "--think", "const:1ms"},
	} {
		code, _, errOut := runCLI(t, append(args, "--duration", "300ms", "--quiet")...)
		assert.Equal(t, exitOK, code, "%v: %s", args, errOut)
	}
}
