package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestBenchRejectsFewerThanFiveRuns(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"bench", "--runs", "3"}, &out, &errb)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errb.String(), "--runs must be at least 5")
}

func TestBenchRejectsUnknownScenario(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"bench", "--only", "nope", "--quiet"}, &out, &errb)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errb.String(), `unknown scenario "nope"`)
}

func TestBenchRefusesUnwritableOutputsBeforeMeasuring(t *testing.T) {
	for _, flag := range []string{"--report", "--json-file"} {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"bench", "--quiet", flag, "/nonexistent/out"}, &out, &errb)
		assert.Equal(t, exitUsage, code)
		assert.Contains(t, errb.String(), flag+" /nonexistent/out: directory /nonexistent does not exist")
		assert.Empty(t, out.String())
	}
}

func TestBenchJSONAndReport(t *testing.T) {
	defer goleak.VerifyNone(t)
	report := filepath.Join(t.TempDir(), "r.html")
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"bench", "--quick", "--quiet", "--json", "--only", "token_economy", "--report", report}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	var got struct {
		Machine map[string]any   `json:"machine"`
		Results []map[string]any `json:"results"`
		Ratios  map[string]any   `json:"ratios"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &got))
	assert.NotEmpty(t, got.Machine["go_version"])
	require.NotEmpty(t, got.Results)
	for _, r := range got.Results {
		assert.Equal(t, "token_economy", r["scenario"])
	}
	assert.Contains(t, got.Ratios, "hot_path_vs_database_sql")
	html, err := os.ReadFile(report)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(html), "<!doctype html>"))
	assert.Contains(t, string(html), "token_economy")
}

// Every scenario an example of `idpool bench --help` names with --only
// exists: an example that exits 2 teaches nothing.
func TestBenchHelpExamplesNameKnownScenarios(t *testing.T) {
	named := 0
	for _, ex := range benchHelp.examples {
		cmdline, _, _ := strings.Cut(ex, "#")
		args := strings.Fields(cmdline)
		require.Equal(t, []string{"idpool", "bench"}, args[:2], ex)
		for i, a := range args {
			if a == "--only" && i+1 < len(args) {
				assert.NoError(t, checkScenarios(args[i+1]), ex)
				named++
			}
		}
	}
	assert.Positive(t, named, "an example shows --only")
}

// --report and --json-file naming one file ran the whole benchmark and then
// wrote the JSON over the HTML report (or a link to it): one output lost.
// The pair is refused before anything runs.
func TestBenchRefusesOneFileForBothOutputs(t *testing.T) {
	dir := t.TempDir()
	same := filepath.Join(dir, "out")
	require.NoError(t, os.WriteFile(same, nil, 0o600))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(same, link))
	for _, pair := range [][2]string{
		{same, same},
		{same, filepath.Join(dir, ".", "sub", "..", "out")},
		{same, link},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"bench", "--quick", "--quiet", "--only", "token_economy",
			"--report", pair[0], "--json-file", pair[1]}, &out, &errb)
		assert.Equal(t, exitUsage, code, pair)
		assert.Contains(t, errb.String(), "--report and --json-file both name", pair)
		assert.Empty(t, out.String(), pair)
	}
}

// removeOnFirstWrite removes dir when the first byte reaches it: the first
// progress line, once the output checks have passed and the runs begun.
type removeOnFirstWrite struct {
	dir  string
	once sync.Once
	err  error
}

func (w *removeOnFirstWrite) Write(p []byte) (int, error) {
	w.once.Do(func() { w.err = os.RemoveAll(w.dir) })
	return len(p), nil
}

// An output that could not be written at the end (its directory gone)
// returned at once, and the tables and the other file, minutes of
// measurements, were never written. Every output is now tried.
func TestBenchWritesEveryOutputItCan(t *testing.T) {
	defer goleak.VerifyNone(t)
	gone := filepath.Join(t.TempDir(), "gone")
	require.NoError(t, os.Mkdir(gone, 0o700))
	jsonFile := filepath.Join(t.TempDir(), "r.json")
	var out bytes.Buffer
	progress := &removeOnFirstWrite{dir: gone}
	code := run(context.Background(), []string{"bench", "--quick", "--only", "token_economy",
		"--report", filepath.Join(gone, "r.html"), "--json-file", jsonFile}, &out, progress)
	require.NoError(t, progress.err)
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, out.String(), "token_economy", "the tables are printed")
	data, err := os.ReadFile(jsonFile)
	require.NoError(t, err, "the JSON file is written")
	assert.True(t, json.Valid(data))
}

// cancelOnWrite cancels when what was written to it holds marker.
type cancelOnWrite struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	cancel context.CancelFunc
}

func (w *cancelOnWrite) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.marker) {
		w.cancel()
	}
	return n, err
}

// Ctrl-C during `idpool bench` threw away every scenario already measured
// (minutes of them in a full run) and printed only "context canceled". The
// scenarios that finished are printed and written, and the command fails
// as interrupted. The signal is played by cancelling the ctx when the
// second scenario starts.
func TestBenchInterruptedKeepsTheScenariosThatFinished(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	jsonFile := filepath.Join(t.TempDir(), "out.json")
	progress := &cancelOnWrite{marker: "== token_economy", cancel: cancel}
	var out bytes.Buffer
	code := run(ctx, []string{"bench", "--quick", "--only", "metrics,token_economy", "--json-file", jsonFile}, &out, progress)
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, progress.buf.String(), "idpool bench: bench: interrupted in token_economy")
	assert.Contains(t, progress.buf.String(), "the results cover only the scenarios that finished")
	assert.Contains(t, out.String(), "metrics", "the finished scenario's table")
	var got struct {
		Results []map[string]any `json:"results"`
	}
	data, err := os.ReadFile(jsonFile)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &got))
	require.NotEmpty(t, got.Results)
	for _, r := range got.Results {
		assert.Equal(t, "metrics", r["scenario"])
	}
}
