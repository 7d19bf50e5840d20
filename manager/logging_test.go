package manager

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
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

func TestLogsTellWhatHappenedAndNeverATokenOrPassword(t *testing.T) {
	const secretToken, password = "SENTINEL-TOKEN-abc123", "SENTINEL-PASSWORD-xyz"
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m, db := newManager(t, Config{MaxSize: 2, Logger: logger, DialBackoff: time.Millisecond, TokenThreshold: time.Minute, HealthCheckAfter: -1})
	n := 0
	id := tokens.New(tokens.KindServicePrincipal, "sp:tenant/app", tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		n++
		if n == 2 {
			return tokens.Token{}, errors.New("token endpoint down")
		}
		// Near expiry, then rotated: exercises the rotation path.
		return tokens.Token{Value: secretToken + string(rune('a'+n)), ExpiresOn: time.Now().Add(30 * time.Second)}, nil
	}))
	l := acquire(t, m, id)
	l.Release(nil)
	// Near expiry: the re-check's mint fails, and the still-valid
	// connection is used anyway.
	l = acquire(t, m, id)
	l.Release(nil)
	l = acquire(t, m, id) // rotated token: drain and reopen
	l.Release(errBad)
	db.FailDials(1, errors.New("login failed for user with password "+strings.Repeat("*", 3)))
	if l, err := m.Acquire(context.Background(), id); err == nil {
		l.Release(nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, m.Close(ctx))

	out := buf.String()
	for _, want := range []string{"pool created", "acquired", "token mint failed", "token rotated", "dial failed", "consecutive_failures", `"reason":"broken"`, "sp#"} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, secretToken)
	assert.NotContains(t, out, password)
	assert.NotContains(t, out, "sp:tenant/app", "identity printed as a hash")
}
