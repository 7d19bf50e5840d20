package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestNewSharingKeepsEachPoolsOwnFields: pools made from one shared
// template report their own key, seed and flags, and the shared rest; a
// configuration that differs from the template in a shared field is
// copied, never silently replaced by the template.
func TestNewSharingKeepsEachPoolsOwnFields(t *testing.T) {
	shared := &PoolConfig{MinSize: 1, MaxSize: 4, IdleTimeout: time.Minute, RetireAfter: time.Hour, TokenThreshold: 5 * time.Minute}
	a, b := *shared, *shared
	a.Key, a.Seed, a.UsesToken = "srv\x00alice", 1, true
	b.Key, b.Seed, b.NeedsPermit = "srv\x00bob", 2, true
	pa, pb := NewSharing(a, shared), NewSharing(b, shared)
	assert.Equal(t, a, pa.Config())
	assert.Equal(t, b, pb.Config())
	assert.Same(t, shared, pa.cfg.PoolConfig, "a matching pool shares the template")
	assert.Same(t, shared, pb.cfg.PoolConfig)

	odd := a
	odd.MaxSize = 9
	po := NewSharing(odd, shared)
	assert.Equal(t, odd, po.Config(), "a pool that differs keeps its own configuration")
	assert.NotSame(t, shared, po.cfg.PoolConfig)
	assert.Equal(t, 4, shared.MaxSize, "the template is never written")

	alone := New(a)
	assert.Equal(t, a, alone.Config())
	bad := PoolConfig{Key: "k", MaxSize: 0, MinSize: 3}
	assert.Equal(t, 1, New(bad).Config().MaxSize, "New still normalizes")
	assert.Equal(t, 1, NewSharing(bad, shared).Config().MinSize)
}
