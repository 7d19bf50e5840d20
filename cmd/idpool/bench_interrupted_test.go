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
)

// The files an interrupted `idpool bench` wrote (--json-file, --report) and
// the tables it printed read as a whole run of fewer scenarios: nothing in
// them said that the run was cut short, so out.json kept by CI, or read
// later, passed for a complete `--only metrics`. Each now says it was
// interrupted, and where.
func TestBenchInterruptedOutputsSaySo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	jsonFile, htmlFile := filepath.Join(dir, "out.json"), filepath.Join(dir, "out.html")
	progress := &cancelOnWrite{marker: "== token_economy", cancel: cancel}
	var out bytes.Buffer
	code := run(ctx, []string{"bench", "--quick", "--only", "metrics,token_economy",
		"--json-file", jsonFile, "--report", htmlFile}, &out, progress)
	require.Equal(t, exitFailed, code, progress.buf.String())

	var got struct {
		Interrupted string `json:"interrupted"`
	}
	data, err := os.ReadFile(jsonFile)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &got))
	assert.Contains(t, got.Interrupted, "interrupted in token_economy", "the JSON file says the run was cut short")

	html, err := os.ReadFile(htmlFile)
	require.NoError(t, err)
	assert.Contains(t, string(html), "interrupted in token_economy", "the HTML report says so")
	assert.Contains(t, out.String(), "interrupted in token_economy", "the tables say so")
}

// A run that was not interrupted says nothing of it.
func TestBenchWholeRunSaysNothingOfAnInterruption(t *testing.T) {
	jsonFile := filepath.Join(t.TempDir(), "out.json")
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"bench", "--quick", "--quiet", "--only", "token_economy", "--json-file", jsonFile}, &out, &errb)
	require.Equal(t, exitOK, code, errb.String())
	var got map[string]any
	data, err := os.ReadFile(jsonFile)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &got))
	assert.NotContains(t, got, "interrupted")
	assert.NotContains(t, out.String(), "interrupted")
}
