package main

import (
	"context"
	"os"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/idpool/idpool/internal/syncbuf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fullWriter fails every write as a full disk does, and keeps what it was
// asked to write.
type fullWriter struct {
	mu    sync.Mutex
	tried []byte
	once  sync.Once
	wrote chan struct{}
}

func (w *fullWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.tried = append(w.tried, p...)
	w.mu.Unlock()
	w.once.Do(func() { close(w.wrote) })
	return 0, &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.ENOSPC}
}

// `idpool tds > /dev/full` (or into a pipe whose reader has gone) served on
// until Ctrl-C with its instructions lost: the local Entra ID's port and the
// temporary certificates file are told nowhere else. It fails (exit 1),
// saying so, and removes the certificates file it made.
func TestTDSCommandFailsWhenItCannotSayHowToConnect(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout := &fullWriter{wrote: make(chan struct{})}
	var stderr syncbuf.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"tds", "--addr", "127.0.0.1:0"}, stdout, &stderr) }()
	select {
	case <-stdout.wrote:
	case code := <-done:
		t.Fatalf("exit %d before writing anything: %s", code, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("nothing written within 30s")
	}
	select {
	case code := <-done:
		assert.Equal(t, exitFailed, code)
	case <-time.After(30 * time.Second):
		cancel()
		<-done
		t.Fatal("still serving, with how to connect written nowhere")
	}
	assert.Contains(t, stderr.String(), "idpool tds: writing how to connect:")
	stdout.mu.Lock()
	m := regexp.MustCompile(`certificates: (\S+)`).FindSubmatch(stdout.tried)
	stdout.mu.Unlock()
	require.NotNil(t, m)
	_, err := os.Stat(string(m[1]))
	assert.True(t, os.IsNotExist(err), "the temporary certificates file is removed: %v", err)
}
