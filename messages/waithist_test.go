package messages

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestWaitHistogramQuantilesAreWithinABucketOfTheTruth(t *testing.T) {
	var h WaitHistogram
	r := rand.New(rand.NewPCG(1, 2))
	waits := make([]time.Duration, 10_000)
	for i := range waits {
		waits[i] = time.Duration(r.ExpFloat64() * float64(3*time.Millisecond))
		h.Record(waits[i])
	}
	sort.Slice(waits, func(i, j int) bool { return waits[i] < waits[j] })
	assert.EqualValues(t, len(waits), h.Count())
	assert.Equal(t, waits[len(waits)-1], h.Max)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		truth := waits[int(q*float64(len(waits)))-1]
		got := h.Quantile(q)
		assert.GreaterOrEqual(t, float64(got), float64(truth)*0.99, "q=%v", q)
		assert.LessOrEqual(t, float64(got), float64(truth)*1.5+float64(time.Microsecond), "q=%v", q)
	}
}

func TestWaitHistogramBucketsAreOrderedAndMerge(t *testing.T) {
	prev := -1
	for us := int64(0); us < 1<<20; us = us*5/4 + 1 {
		b := bucketOf(time.Duration(us) * time.Microsecond)
		assert.GreaterOrEqual(t, b, prev)
		assert.LessOrEqual(t, time.Duration(us)*time.Microsecond, bucketUpper(b))
		prev = b
	}
	var a, b WaitHistogram
	a.Record(time.Millisecond)
	b.Record(time.Second)
	b.Record(0)
	a.Merge(&b)
	assert.EqualValues(t, 3, a.Count())
	assert.Equal(t, time.Second, a.Max)
	assert.Equal(t, time.Second+time.Millisecond, a.Sum)
	assert.Equal(t, 2*time.Hour, func() time.Duration { var h WaitHistogram; h.Record(2 * time.Hour); return h.Quantile(1) }())
}
