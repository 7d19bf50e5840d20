package fleet

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFleetDocStatesTheDefaults: the defaults, bounds and margins
// docs/FLEET.md gives operators to size a fleet with are the code's.
func TestFleetDocStatesTheDefaults(t *testing.T) {
	b, err := os.ReadFile("../docs/FLEET.md")
	require.NoError(t, err)
	doc := strings.Join(strings.Fields(string(b)), " ")
	validFor := func(ttl time.Duration) time.Duration { return (&Budget{}).validFor(int64(ttl / time.Second)) }
	// What is left of a lease when the leader stops right before a renewal
	// falls due: the renewal's time, TTL/3 after the last, to the time the
	// process stops counting on the lease.
	leftAtFailover := func(ttl time.Duration) string {
		return fmt.Sprintf("%.2g", (validFor(ttl) - ttl/3).Seconds())
	}
	for _, want := range []string{
		fmt.Sprintf("plus `Batch`** (default %d)", DefaultBatch),
		fmt.Sprintf("after `IdleReturn` (default %s)", DefaultIdleReturn),
		fmt.Sprintf("%s by default; %s is the minimum", DefaultTTL, minTTL),
		fmt.Sprintf("(default %s, margin %s)", DefaultTTL, DefaultTTL-validFor(DefaultTTL)),
		fmt.Sprintf("(up to %d times, then back off)", maxTries),
		fmt.Sprintf("%ss at the minimum TTL of %s, %ss at the default %s", leftAtFailover(minTTL), minTTL, leftAtFailover(DefaultTTL), DefaultTTL),
	} {
		assert.True(t, strings.Contains(doc, want), "docs/FLEET.md should say %q", want)
	}
	// "a fifth of the TTL, at least 500ms"
	assert.True(t, strings.Contains(doc, "(a fifth of the TTL, at least 500ms)"))
	assert.Equal(t, 2*time.Second, 10*time.Second-validFor(10*time.Second), "a fifth")
	assert.Equal(t, 500*time.Millisecond, 2*time.Second-validFor(2*time.Second), "at least 500ms")
}
