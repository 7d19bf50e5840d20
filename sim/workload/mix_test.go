package workload

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// strconv reads "NaN", "Inf" and 1e308 as weights, and every comparison
// with NaN is false: --mix select=1,slow=NaN and --mix
// select=1e308,slow=1e308 (whose sum overflows to +Inf) passed the checks
// and ran every operation as a select, without a word.
func TestMixRefusesWeightsThatAreNotFinite(t *testing.T) {
	for _, bad := range []string{"select=1,slow=NaN", "select=Inf", "select=1,commit=+Inf", "select=1e308,slow=1e308"} {
		var m Mix
		assert.ErrorContains(t, m.Set(bad), "finite", bad)
	}
	// Built by hand, not parsed: Validate refuses it too.
	c := Default()
	c.Mix = Mix{Select: 1e308, Slow: 1e308}
	assert.ErrorContains(t, c.Validate(), "finite")
}
