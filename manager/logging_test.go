package manager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/internal/syncbuf"
	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLogsTellWhatHappenedAndNeverAToken(t *testing.T) {
	const secretToken = "SENTINEL-TOKEN-abc123"
	var buf syncbuf.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clock := &logSkewClock{}
	m, db := newManager(t, Config{MaxSize: 2, Logger: logger, DialBackoff: -1, HealthCheckAfter: -1, MaxLifetime: -1, Clock: clock})
	var n atomic.Int64
	id := tokens.New(tokens.KindServicePrincipal, "sp:tenant/app", tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		if n.Add(1) == 1 {
			return tokens.Token{}, errors.New("token endpoint down")
		}
		// Each mint hands out a new token for an hour.
		return tokens.Token{Value: fmt.Sprint(secretToken, n.Load()), ExpiresOn: clock.Now().Add(time.Hour)}, nil
	}))
	_, err := m.Acquire(context.Background(), id)
	require.ErrorContains(t, err, "token endpoint down")
	l := acquire(t, m, id)
	l.Release(nil)
	// Inside the token threshold: the next checkout re-checks the token,
	// and the mint rotates it.
	clock.off.Add(int64(56 * time.Minute))
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

// logSkewClock is the real clock moved forward by off; its timers run in
// real time.
type logSkewClock struct{ off atomic.Int64 }

func (c *logSkewClock) Now() time.Time { return time.Now().Add(time.Duration(c.off.Load())) }

func (c *logSkewClock) AfterFunc(d time.Duration, f func()) actors.Timer { return time.AfterFunc(d, f) }
