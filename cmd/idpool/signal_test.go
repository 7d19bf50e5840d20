package main

import (
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/idpool/idpool/internal/syncbuf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cliBinary builds idpool into a temporary directory: signals are tested on
// a real process, where main turns them into the commands' context.
func cliBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "idpool")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

// markerWriter keeps what is written and closes seen once it holds marker.
type markerWriter struct {
	syncbuf.Buffer
	marker string
	once   sync.Once
	seen   chan struct{}
}

func (w *markerWriter) Write(p []byte) (int, error) {
	n, err := w.Buffer.Write(p)
	if strings.Contains(w.String(), w.marker) {
		w.once.Do(func() { close(w.seen) })
	}
	return n, err
}

// startUntil starts bin with args and returns once its stderr holds marker.
func startUntil(t *testing.T, bin, marker string, args ...string) (*exec.Cmd, *markerWriter) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stderr := &markerWriter{marker: marker, seen: make(chan struct{})}
	cmd.Stderr = stderr
	cmd.Stdout = &syncbuf.Buffer{} // the report, read back with stdoutOf
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	select {
	case <-stderr.seen:
	case <-time.After(60 * time.Second):
		t.Fatalf("no %q on stderr within 60s: %s", marker, stderr.String())
	}
	return cmd, stderr
}

// stdoutOf is what a command started by startUntil wrote to its stdout.
func stdoutOf(cmd *exec.Cmd) string { return cmd.Stdout.(*syncbuf.Buffer).String() }

// exitWithin waits for cmd and returns its exit code, failing the test if it
// runs on past d.
func exitWithin(t *testing.T, cmd *exec.Cmd, d time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		require.NoError(t, err)
		return 0
	case <-time.After(d):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("still running %s after the signal", d)
		return -1
	}
}

// A virtual run ignored Ctrl-C and SIGTERM: main catches both into a context
// the virtual simulator does not take, so `idpool sim --mode virtual
// --duration 1000h` could only be stopped with SIGKILL.
func TestSimVirtualStopsOnInterrupt(t *testing.T) {
	bin := cliBinary(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		// The first plain progress line comes with the first snapshot.
		cmd, stderr := startUntil(t, bin, "virtual", "sim", "--mode", "virtual", "--duration", "1000h")
		require.NoError(t, cmd.Process.Signal(sig))
		assert.Equal(t, exitFailed, exitWithin(t, cmd, 10*time.Second), sig)
		assert.Contains(t, stderr.String(), "idpool sim: interrupted", sig)
		assert.NotContains(t, stderr.String(), "goroutine ", sig)
	}
}

// A live run stopped by Ctrl-C or SIGTERM printed its report ending "all
// invariants held" and exited 0, as if the whole run had passed. It still
// prints the report of the part that ran, says so, and exits as failed.
func TestSimLiveInterruptedSaysSo(t *testing.T) {
	bin := cliBinary(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		cmd, stderr := startUntil(t, bin, "live", "sim", "--mode", "live", "--backend", "memdb", "--duration", "1000h")
		require.NoError(t, cmd.Process.Signal(sig))
		assert.Equal(t, exitFailed, exitWithin(t, cmd, 60*time.Second), sig)
		assert.Contains(t, stderr.String(), "idpool sim: interrupted", sig)
		assert.Contains(t, stdoutOf(cmd), "all invariants held in the part that ran (interrupted)", sig)
		assert.NotContains(t, stdoutOf(cmd), "all invariants held\n", sig)
	}
}

// After Ctrl-C a live run finishes the leases in flight, each up to its
// --hold (a minute at most), and a second Ctrl-C was caught and dropped:
// only SIGKILL ended it. The first signal says how to quit at once, and
// the second does, as SIGINT does (no report).
func TestSimSecondInterruptQuitsAtOnce(t *testing.T) {
	bin := cliBinary(t)
	cmd := exec.Command(bin, "sim", "--backend", "memdb", "--duration", "1000h",
		"--hold", "const:1m", "--acquire-timeout", "1m", "--token-lifetime", "3m", "--token-threshold", "70s")
	// The first progress line comes once main has its signals; the word
	// of a second interrupt once the first ended the run's ctx.
	running := &markerWriter{marker: "live", seen: make(chan struct{})}
	stopping := &markerWriter{marker: "interrupt again", seen: make(chan struct{})}
	cmd.Stderr = io.MultiWriter(running, stopping)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	for _, step := range []*markerWriter{running, stopping} {
		select {
		case <-step.seen:
		case <-time.After(60 * time.Second):
			t.Fatalf("no %q on stderr within 60s: %s", step.marker, step.String())
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	}
	// The leases in flight hold for a minute yet; the bound is well
	// below it.
	assert.Equal(t, -1, exitWithin(t, cmd, 30*time.Second), "killed by the signal")
	assert.Equal(t, syscall.SIGINT, cmd.ProcessState.Sys().(syscall.WaitStatus).Signal())
}
