package fleet

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/etcdtest"
)

// TestFirstLeaseKeepsTheMargin: a lease just granted is counted on for its
// TTL less validFor's margin, as after each renewal, not for its whole TTL.
// Renewals that fail from the very first (a partition right after the
// grant) would otherwise leave no time to close the connections before etcd
// expires the lease and hands its permits to others.
func TestFirstLeaseKeepsTheMargin(t *testing.T) {
	cli := etcdtest.StartClient(t, 1)
	const ttl = 30 * time.Second // no renewal for 10s
	b := newHookedBudget(t, cli, Config{Prefix: "/t/grantmargin/", Cap: 2, TTL: ttl, Batch: 1, IdleReturn: time.Hour}, func() {})
	require.Eventually(t, func() bool { return b.Stats().LeaseValid }, 10*time.Second, time.Millisecond)
	now := time.Now()
	b.mu.Lock()
	validUntil, renewals := b.validUntil, b.st.Renewals
	b.mu.Unlock()
	require.Zero(t, renewals, "a renewal came before the check")
	assert.False(t, validUntil.After(now.Add(b.validFor(int64(ttl/time.Second)))),
		"the first lease is counted on %s from now, past its TTL less the margin", validUntil.Sub(now))
}
