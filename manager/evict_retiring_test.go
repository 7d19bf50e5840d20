package manager

import (
	"context"
	"database/sql/driver"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEvictWaitsForARetiringPoolsConnections: Evict returns nil once every
// connection of the identity's pools has finished closing. A quiet pool
// closing its connection to retire (a slow driver Close or BeforeClose
// hook) holds that session until then: Evict must not report done before,
// and does once the close has finished. Found by the review of session 9:
// Evict forwarded to the live pool only, and a pool counted only the closes
// it began itself. (A pool now retires only once its closes have finished,
// so the pool is still live here.)
func TestEvictWaitsForARetiringPoolsConnections(t *testing.T) {
	hold, closing := make(chan struct{}), make(chan struct{}, 1)
	m, db := newManager(t, Config{PoolIdleTimeout: 10 * time.Millisecond, HealthCheckAfter: -1,
		Hooks: Hooks{BeforeClose: func(driver.Conn) {
			closing <- struct{}{}
			<-hold
		}}})
	id := identity("leaving")
	acquire(t, m, id).Release(nil)
	<-closing // the retiring pool's close of its connection has begun
	require.Zero(t, m.Stats().PoolsRetired, "not before its close has finished")

	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := m.Evict(short, id)
	require.Error(t, err, "Evict reported done while the identity's session was still open")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, "did not finish (pools still closing: 1)")
	assert.Equal(t, 1, db.OpenNow())

	done := make(chan error, 1)
	go func() { done <- m.Evict(context.Background(), id) }()
	close(hold)
	require.NoError(t, <-done)
	assert.Zero(t, db.OpenNow(), "every session of the identity is closed when Evict returns")
}

// TestResetWaitsForARetiringPoolsConnections: Reset, likewise, waits for
// the sessions of a pool closing them to retire.
func TestResetWaitsForARetiringPoolsConnections(t *testing.T) {
	hold, closing := make(chan struct{}), make(chan struct{}, 1)
	m, db := newManager(t, Config{PoolIdleTimeout: 10 * time.Millisecond, HealthCheckAfter: -1,
		Hooks: Hooks{BeforeClose: func(driver.Conn) {
			closing <- struct{}{}
			<-hold
		}}})
	acquire(t, m, identity("leaving")).Release(nil)
	<-closing
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, m.Reset(short), context.DeadlineExceeded)
	done := make(chan error, 1)
	go func() { done <- m.Reset(context.Background()) }()
	close(hold)
	require.NoError(t, <-done)
	assert.Zero(t, db.OpenNow())
}
