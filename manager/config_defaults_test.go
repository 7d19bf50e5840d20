package manager

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The defaults Config's field comments, README ("Behaviour") and
// docs/OPERATIONS.md ("Configuration") promise: a zero Config gets exactly
// these, and a negative optional timer turns its feature off (zero to the
// pools).
func TestConfigZeroValuesTakeTheDocumentedDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	assert.Equal(t, 10, c.MaxSize)
	assert.Equal(t, 0, c.MinSize)
	assert.Equal(t, 0, c.MaxWaiters, "unlimited")
	assert.Equal(t, 0, c.MaxTotal, "no global cap")
	assert.Equal(t, 30*time.Second, c.AcquireTimeout)
	assert.Equal(t, 15*time.Second, c.DialTimeout)
	assert.Equal(t, 5*time.Minute, c.IdleTimeout)
	assert.Equal(t, 30*time.Minute, c.MaxLifetime)
	assert.Equal(t, 3*time.Minute, c.LifetimeJitter, "MaxLifetime/10")
	assert.Equal(t, time.Second, c.HealthCheckAfter)
	assert.Equal(t, 5*time.Second, c.ValidateTimeout)
	assert.Equal(t, 2*time.Second, c.CancelGrace)
	assert.Equal(t, 5*time.Minute, c.TokenThreshold)
	assert.Equal(t, 30*time.Second, c.MintTimeout)
	assert.Equal(t, 200*time.Millisecond, c.DialBackoff)
	assert.Equal(t, 10*time.Second, c.DialBackoffMax)
	assert.Equal(t, 10*time.Minute, c.PoolIdleTimeout)
	assert.False(t, c.TokenRefreshAhead)
	assert.NotNil(t, c.Clock, "the system clock")

	// docs/OPERATIONS.md ("Shutdown") and the Close and DB.Close docs.
	assert.Equal(t, 100*time.Millisecond, CloseGrace)
	assert.Equal(t, time.Second, CloseStuckGrace)
	assert.Equal(t, 30*time.Second, CloseTimeout)
	assert.Equal(t, 2*time.Second, OperationWait)

	assert.Equal(t, 6*time.Minute, Config{MaxLifetime: time.Hour}.withDefaults().LifetimeJitter, "MaxLifetime/10 of the MaxLifetime set")

	off := Config{AcquireTimeout: -1, IdleTimeout: -1, MaxLifetime: -1, HealthCheckAfter: -1,
		DialBackoff: -1, PoolIdleTimeout: -1, CancelGrace: -1}.withDefaults()
	for name, d := range map[string]time.Duration{"AcquireTimeout": off.AcquireTimeout, "IdleTimeout": off.IdleTimeout,
		"MaxLifetime": off.MaxLifetime, "LifetimeJitter": off.LifetimeJitter, "HealthCheckAfter": off.HealthCheckAfter,
		"DialBackoff": off.DialBackoff, "PoolIdleTimeout": off.PoolIdleTimeout, "CancelGrace": off.CancelGrace} {
		assert.Zero(t, d, "%s: negative turns it off", name)
	}
}
