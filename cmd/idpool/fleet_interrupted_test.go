package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idpool/idpool/internal/etcdtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Ctrl-C during `idpool sim --fleet N` failed with the bare "context
// canceled", and its outputs read as a whole run: the HTML report's verdict
// was "every fleet invariant held" (the recoveries never measured shown as
// "-"), as the ordinary sim's once was. Each output now says the run was
// interrupted and covers only the part that ran. The signal is played by
// cancelling the ctx at the run's first fault.
func TestSimFleetInterruptedSaysSo(t *testing.T) {
	if _, err := etcdtest.Binary(); err != nil && os.Getenv(etcdtest.RequireEnv) != "1" {
		t.Skip(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	file := filepath.Join(dir, "fleet.html")
	progress := &cancelOnWrite{marker: "fleet sim: killed worker", cancel: cancel}
	var out bytes.Buffer
	code := run(ctx, []string{"sim", "--fleet", "2", "--cap", "6", "--ttl", "4s", "--phase", "300ms", "--report", file}, &out, progress)
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, progress.buf.String(), "idpool sim: interrupted: the report covers only the part of the run before the signal")
	assert.NotContains(t, progress.buf.String(), "context canceled")
	assert.Contains(t, out.String(), "interrupted", "the text report says so")

	html, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.False(t, strings.Contains(string(html), "every fleet invariant held"), "the HTML report's verdict")
	assert.True(t, strings.Contains(string(html), "interrupted"), "the HTML report says so")

	// The JSON form says so too.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	progress = &cancelOnWrite{marker: "fleet sim: killed worker", cancel: cancel2}
	out.Reset()
	code = run(ctx2, []string{"sim", "--fleet", "2", "--cap", "6", "--ttl", "4s", "--phase", "300ms", "--json"}, &out, progress)
	assert.Equal(t, exitFailed, code)
	var m map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &m), out.String())
	assert.Contains(t, m["stopped"], "interrupted")
}
