package postgres_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
)

// TestHealthCheckOfASilentPgxConnection: since 5b2bbf5 a pgx
// connection's health check is watched (the Dialer is an Aborter). On a
// session gone silent the check (IsValid, then Ping under ValidateTimeout)
// must fail within ValidateTimeout (+ CancelGrace), and the acquire be
// served by a new connection; under -race.
func TestHealthCheckOfASilentPgxConnection(t *testing.T) {
	e := newSilentEnv(t, manager.Config{MaxSize: 1, HealthCheckAfter: time.Nanosecond,
		ValidateTimeout: 300 * time.Millisecond, CancelGrace: 300 * time.Millisecond})
	ctx := as(t, e.alice)
	l, err := e.pool.Acquire(ctx)
	require.NoError(t, err)
	pid := backendPID(t, ctx, l)
	l.Release()
	e.proxy.SilenceOpen()

	start := time.Now()
	l, err = e.pool.Acquire(ctx)
	require.NoError(t, err)
	defer l.Release()
	t.Logf("acquire after a failed health check took %s", time.Since(start).Round(time.Millisecond))
	assert.NotEqual(t, pid, backendPID(t, ctx, l), "a new connection")
	assert.Less(t, time.Since(start), 5*time.Second)
}
