package main

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// --ops said "stop after this many acquires (0: run for --duration)", and
// docs/SIM.md "--duration 20s or --ops N": `idpool sim --ops 1000000` ran
// 190,953 acquires, stopped by the default --duration, and said nothing of
// it. The run ends at whichever comes first, as its --help now says, and
// --duration 0 runs exactly --ops acquires.
func TestSimOpsHelpSaysDurationEndsTheRunToo(t *testing.T) {
	var got struct{ Acquires uint64 }
	code, out, errOut := runCLI(t, "--mode", "virtual", "--quiet", "--json", "--duration", "100ms", "--ops", "1000000")
	require.Equal(t, exitOK, code, errOut)
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Less(t, got.Acquires, uint64(1_000_000), "--duration ended the run first")

	code, out, errOut = runCLI(t, "--mode", "virtual", "--quiet", "--json", "--duration", "0", "--ops", "5000")
	require.Equal(t, exitOK, code, errOut)
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, uint64(5000), got.Acquires)

	_, help, _ := runCLI(t, "--help")
	line := regexp.MustCompile(`(?s)-ops int\n\s+[^\n]*`).FindString(help)
	assert.Contains(t, line, "or at --duration if that comes first")
	assert.Contains(t, line, "--duration 0: run for exactly this many")
}
