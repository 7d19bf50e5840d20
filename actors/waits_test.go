package actors

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/idpool/idpool/messages"
	"github.com/stretchr/testify/assert"
)

// TestWaitHistIsTheFullHistogram: whatever waits are recorded, in few
// buckets or many, the compact histogram reports what the full one does.
func TestWaitHistIsTheFullHistogram(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		var h waitHist
		var want messages.WaitHistogram
		spread := 1 + trial%12 // how many orders of magnitude the waits span
		for range r.IntN(40) {
			d := time.Duration(r.Int64N(int64(1)<<(4*spread))) - time.Microsecond
			h.record(d)
			want.Record(d)
			assert.Equal(t, want, h.histogram(), "trial %d", trial)
		}
	}
}

// TestWaitHistStaysSmallForFewBuckets: an idle pool's few waits cost no
// full histogram.
func TestWaitHistStaysSmallForFewBuckets(t *testing.T) {
	var h waitHist
	for _, d := range []time.Duration{0, time.Microsecond, time.Millisecond, time.Second, 0, time.Second} {
		h.record(d)
	}
	assert.Nil(t, h.full)
	h.record(time.Hour)
	assert.NotNil(t, h.full, "a fifth bucket needs the full histogram")
	full := h.histogram()
	assert.EqualValues(t, 7, full.Count())
}
