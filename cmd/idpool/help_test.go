package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTopLevelHelpListsEveryCommandAndTheExitCodes(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		var out, errb bytes.Buffer
		require.Equal(t, exitOK, run(context.Background(), args, &out, &errb), args)
		assert.Empty(t, errb.String())
		for name, c := range commands {
			// The whole summary, not a cut-off one.
			assert.Contains(t, out.String(), name+" "+strings.Repeat(" ", 6-len(name))+c.summary, args)
		}
		assert.Contains(t, out.String(), exitCodesHelp)
		assert.Contains(t, out.String(), `"idpool <command> --help"`)
	}
}

func TestNoCommandOrUnknownCommandIsAUsageError(t *testing.T) {
	var out, errb bytes.Buffer
	assert.Equal(t, exitUsage, run(context.Background(), nil, &out, &errb))
	assert.Contains(t, errb.String(), "usage: idpool <command>")
	errb.Reset()
	assert.Equal(t, exitUsage, run(context.Background(), []string{"serve"}, &out, &errb))
	assert.Contains(t, errb.String(), `unknown command "serve"`)
	assert.Empty(t, out.String())
}

func TestEveryCommandHelpSaysWhatItDoesWithAnExample(t *testing.T) {
	helps := map[string]help{"sim": simHelp, "bench": benchHelp, "tds": tdsHelp, "demo": demoHelp}
	require.Len(t, helps, len(commands), "every command has its help")
	for name, h := range helps {
		var out, errb bytes.Buffer
		require.Equal(t, exitOK, run(context.Background(), []string{name, "--help"}, &out, &errb), name)
		text := out.String()
		assert.Empty(t, errb.String(), name)
		assert.True(t, strings.HasPrefix(text, "usage: idpool "+name+" [flags]\n\n"), name)
		assert.Contains(t, text, strings.TrimSpace(h.description), name)
		assert.Contains(t, text, "Examples:\n  idpool "+name, name)
		assert.Contains(t, text, "Flags:\n  -", name)
		assert.Contains(t, text, exitCodesHelp, name)
		assert.GreaterOrEqual(t, len(strings.Fields(h.description)), 30, "%s: a description, not a line", name)

		var again bytes.Buffer
		require.Equal(t, exitOK, run(context.Background(), []string{"help", name}, &again, &errb))
		assert.Equal(t, text, again.String(), "idpool help %s == idpool %s --help", name, name)
	}
}

func TestDemoRefusesBadFlagsBeforeRunning(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--identities", "0"}, "--identities must be at least 1"},
		{[]string{"--workers", "-1"}, "--workers must be at least 1"},
		{[]string{"--duration", "0s"}, "--duration must be positive"},
		{[]string{"--max-size", "0"}, "--max-size must be at least 1"},
		{[]string{"--duration", "soon"}, `invalid value "soon"`},
	} {
		var out, errb bytes.Buffer
		assert.Equal(t, exitUsage, run(context.Background(), append([]string{"demo"}, c.args...), &out, &errb), c.args)
		assert.Contains(t, errb.String(), c.want, c.args)
		assert.Empty(t, out.String(), c.args)
	}
}

// `idpool help help` and `idpool --help -h` once forwarded the second word
// as a command with --help appended, which forwarded it again, until the
// stack overflowed (a fatal error and a trace, not a panic a test recovers).
func TestHelpOfHelpPrintsTheUsage(t *testing.T) {
	for _, args := range [][]string{{"help", "help"}, {"help", "-h"}, {"--help", "--help"}, {"-h", "help"}} {
		var out, errb bytes.Buffer
		require.Equal(t, exitOK, run(context.Background(), args, &out, &errb), args)
		assert.Contains(t, out.String(), "usage: idpool <command>", args)
		assert.Empty(t, errb.String(), args)
	}
	var out, errb bytes.Buffer
	assert.Equal(t, exitUsage, run(context.Background(), []string{"help", "sim", "bench"}, &out, &errb))
	assert.Contains(t, errb.String(), `unexpected arguments ["bench"]`)
	assert.Empty(t, out.String())
}

// A duration without a unit was refused with the flag package's bare "parse
// error"; the message now says what a duration looks like, in every command.
func TestDurationWithoutAUnitSaysSo(t *testing.T) {
	for _, args := range [][]string{
		{"sim", "--duration", "5"},
		{"sim", "--fleet", "2", "--ttl", "3"},
		{"demo", "--duration", "10"},
		{"bench", "--run-time", "1"},
		{"tds", "--token-lifetime", "60"},
	} {
		var out, errb bytes.Buffer
		assert.Equal(t, exitUsage, run(context.Background(), args, &out, &errb), args)
		assert.Contains(t, errb.String(), fmt.Sprintf(`invalid value %q for flag -%s: parse error: want a duration with a unit, as in 300ms, 5s or 2m`, args[len(args)-1], strings.TrimPrefix(args[len(args)-2], "--")), args)
		assert.Empty(t, out.String(), args)
	}
	var out, errb bytes.Buffer
	assert.Equal(t, exitUsage, run(context.Background(), []string{"demo", "--workers", "1s"}, &out, &errb))
	assert.NotContains(t, errb.String(), "duration", "only duration flags get the hint")
}

// A demo stopped by Ctrl-C exited 0 as if it had run its --duration, with a
// rate reckoned over the whole --duration (an interrupted --duration 1000h
// printed 0/s). It prints what ran and exits as interrupted. (The signal is
// a ctx cancelled before the run: main turns SIGINT into the ctx.)
func TestDemoInterruptedSaysSo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	assert.Equal(t, exitFailed, run(ctx, []string{"demo", "--duration", "1000h"}, &out, &errb))
	assert.Contains(t, out.String(), "queries ")
	assert.Contains(t, errb.String(), "idpool demo: interrupted after ")
	assert.Contains(t, errb.String(), "of 1000h0m0s: the figures cover the part that ran")
}
