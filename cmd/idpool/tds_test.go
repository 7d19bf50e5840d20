package main

import (
	"bytes"
	"context"
	"database/sql"
	"regexp"
	"sync"
	"testing"
	"time"

	_ "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lockedBuffer lets the test read what the command prints while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestTDSCommandServesALoginableServerUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out lockedBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"tds", "--addr", "127.0.0.1:0"}, &out, &out) }()
	dsn := regexp.MustCompile(`sqlserver://\S+@\S+`)
	require.Eventually(t, func() bool { return dsn.MatchString(out.String()) }, 10*time.Second, 10*time.Millisecond)

	db, err := sql.Open("sqlserver", dsn.FindString(out.String()))
	require.NoError(t, err)
	var who string
	require.NoError(t, db.QueryRowContext(context.Background(), "SELECT SUSER_SNAME()").Scan(&who))
	assert.Equal(t, "sa", who)
	require.NoError(t, db.Close())

	cancel()
	select {
	case code := <-done:
		assert.Zero(t, code)
	case <-time.After(10 * time.Second):
		t.Fatal("idpool tds did not stop")
	}
}
