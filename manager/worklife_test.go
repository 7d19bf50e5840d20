package manager

import (
	"context"
	"database/sql/driver"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCloseAbortsADialStartedAfterEarlierWorkEnded: a pool keeps a
// cancelable ctx only while work is in flight (actors.workLife), so the
// ctx of a dial started after the pool's first dial has come back is a new
// one; Close must still abort it, at once rather than at its DialTimeout.
func TestCloseAbortsADialStartedAfterEarlierWorkEnded(t *testing.T) {
	var block atomic.Bool
	dialing := make(chan struct{}, 1)
	aborted := make(chan error, 1)
	m, err := New(Config{Server: "bare:1/test", MaxSize: 2, DialTimeout: time.Hour, HealthCheckAfter: -1,
		Dialer: DialerFunc(func(ctx context.Context, _ DialRequest) (driver.Conn, error) {
			if !block.Load() {
				return tinyConn{}, nil
			}
			dialing <- struct{}{}
			<-ctx.Done()
			aborted <- ctx.Err()
			return nil, ctx.Err()
		})})
	require.NoError(t, err)
	alice := identity("alice")
	held := acquire(t, m, alice) // the first dial comes back
	block.Store(true)
	queued := make(chan error, 1)
	go func() {
		_, err := m.Acquire(context.Background(), alice) // a second dial, which hangs
		queued <- err
	}()
	<-dialing
	closed := make(chan error, 1)
	go func() { closed <- m.Close(context.Background()) }()
	assert.ErrorIs(t, <-aborted, context.Canceled, "Close cancels the dial in flight")
	assert.ErrorIs(t, <-queued, ErrClosed)
	held.Release(nil)
	require.NoError(t, <-closed)
}

// TestDialsAfterEarlierWorkEndedAreNotCancelled: dropping the ctx of work
// that has all come back must not cancel work started later.
func TestDialsAfterEarlierWorkEndedAreNotCancelled(t *testing.T) {
	var cancelled atomic.Int32
	m, err := New(Config{Server: "bare:1/test", MaxSize: 3, HealthCheckAfter: -1,
		Dialer: DialerFunc(func(ctx context.Context, _ DialRequest) (driver.Conn, error) {
			if ctx.Err() != nil {
				cancelled.Add(1)
				return nil, ctx.Err()
			}
			return tinyConn{}, nil
		})})
	require.NoError(t, err)
	defer func() { require.NoError(t, m.Close(context.Background())) }()
	alice := identity("alice")
	var held []*Lease
	for range 3 { // each acquire dials after the one before has come back
		held = append(held, acquire(t, m, alice))
	}
	for _, l := range held {
		l.Release(nil)
	}
	assert.Zero(t, cancelled.Load())
	assert.EqualValues(t, 3, m.Stats().Total.Opens)
}
