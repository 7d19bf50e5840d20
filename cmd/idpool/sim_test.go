package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

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
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "unknown bug")
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

func TestSimRejectsBadFlags(t *testing.T) {
	code, _, errOut := runCLI(t, "--mode", "nope")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "unknown mode")
	code, _, _ = runCLI(t, "extra")
	assert.Equal(t, 1, code)
}
