package manager

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a log sink safe for the concurrent writers a pool has.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogsTellWhatHappenedAndNeverAToken(t *testing.T) {
	const secretToken = "SENTINEL-TOKEN-abc123"
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m, db := newManager(t, Config{MaxSize: 2, Logger: logger, DialBackoff: -1, HealthCheckAfter: -1})
	var n atomic.Int64
	id := tokens.New(tokens.KindServicePrincipal, "sp:tenant/app", tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		if n.Add(1) == 1 {
			return tokens.Token{}, errors.New("token endpoint down")
		}
		// No expiry: every checkout re-checks the token, and each mint
		// rotates it.
		return tokens.Token{Value: fmt.Sprint(secretToken, n.Load())}, nil
	}))
	_, err := m.Acquire(context.Background(), id)
	require.ErrorContains(t, err, "token endpoint down")
	l := acquire(t, m, id)
	l.Release(nil)
	l = acquire(t, m, id) // rotated: drained and reopened
	l.Release(errBad)
	db.FailDials(1, errors.New("login failed"))
	_, err = m.Acquire(context.Background(), id)
	require.Error(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, m.Close(ctx))

	out := buf.String()
	for _, want := range []string{"pool created", "acquired", "token mint failed", "token rotated", "dial failed", "consecutive_failures", `"reason":"broken"`, "sp#"} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, secretToken)
	assert.NotContains(t, out, "sp:tenant/app", "identity printed as a hash")
}
