package fleet_test

import (
	"testing"

	"github.com/idpool/idpool/fleet"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConfigRejectsAFallbackShareAboveTheCap: FallbackShare is what one
// process may keep open while it cannot count on its lease; more than the
// whole fleet's Cap is a mistake (a per-fleet number given where a
// per-process one belongs), refused at New rather than trusted during an
// etcd outage.
func TestConfigRejectsAFallbackShareAboveTheCap(t *testing.T) {
	_, err := fleet.New(fleet.Config{Prefix: "/t/fallback/", Cap: 2, FallbackShare: 3})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "FallbackShare")
}
