package messages

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Each bucket's bounds, at its edges: bucket 0 holds waits under 1 µs;
// 1+2k holds [2^k, 1.5*2^k) µs and 2+2k [1.5*2^k, 2^(k+1)) µs.
func TestWaitBucketEdges(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int
	}{
		{-time.Second, 0},
		{0, 0},
		{999 * time.Nanosecond, 0},
		{time.Microsecond, 1},
		{2 * time.Microsecond, 3},
		{3 * time.Microsecond, 4},
		{4 * time.Microsecond, 5},
		{6 * time.Microsecond, 6},
		{1023 * time.Microsecond, 20},
		{1024 * time.Microsecond, 21},
	} {
		assert.Equal(t, c.want, WaitBucket(c.d), "%v", c.d)
	}
}

// A quantile is the upper bound of the bucket its rank falls in: the rank
// rounds up (the median of three waits is the second), and the bucket is
// the first whose running count reaches it.
func TestWaitHistogramQuantileRank(t *testing.T) {
	var h WaitHistogram
	for _, d := range []time.Duration{time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond} {
		h.Record(d)
	}
	assert.Equal(t, bucketUpper(bucketOf(10*time.Millisecond)), h.Quantile(0.5), "the second of three")
	assert.Equal(t, bucketUpper(bucketOf(time.Millisecond)), h.Quantile(0.01), "the first")
	assert.Equal(t, 100*time.Millisecond, h.Quantile(1), "capped at Max")
}

// Waits under 1 µs report as what they were at most (Max), not as nothing
// nor as 1 µs.
func TestWaitHistogramQuantileOfSubMicrosecondWaits(t *testing.T) {
	var h WaitHistogram
	h.Record(300 * time.Nanosecond)
	h.Record(500 * time.Nanosecond)
	assert.Equal(t, 500*time.Nanosecond, h.Quantile(0.5))
	assert.Zero(t, (&WaitHistogram{}).Quantile(0.5), "empty")
}

// A negative wait (a clock stepped back) counts as zero: it takes nothing
// off Sum.
func TestWaitHistogramCountsANegativeWaitAsZero(t *testing.T) {
	var h WaitHistogram
	h.Record(time.Millisecond)
	h.Record(-time.Second)
	assert.Equal(t, time.Millisecond, h.Sum)
	assert.EqualValues(t, 2, h.Count())
	assert.EqualValues(t, 1, h.Buckets[0])
}

// Merge keeps the larger Max, whichever side it is on.
func TestWaitHistogramMergeKeepsTheLargerMax(t *testing.T) {
	var a, b WaitHistogram
	a.Record(time.Second)
	b.Record(time.Millisecond)
	a.Merge(&b)
	assert.Equal(t, time.Second, a.Max)
	b.Merge(&a)
	assert.Equal(t, time.Second, b.Max)
}
