package messages

import (
	"math"
	"math/bits"
	"time"
)

// WaitHistogram counts acquire waits in logarithmic buckets, two per power of
// two of microseconds (so an estimate is within a factor of 1.42), from under
// 1 µs to over an hour. It is a fixed 528-byte array, cheap to keep in every
// pool (thousands of identity pools must stay a few KiB each) and to merge.
// Precise latency distributions come from the OpenTelemetry wait_time
// histogram, or the simulation and benchmarks, which use HDR histograms.
type WaitHistogram struct {
	Buckets [waitBuckets]uint64
	// Sum and Max are exact.
	Sum, Max time.Duration
}

const waitBuckets = 66

// bucketOf maps a wait to its bucket: 0 holds waits under 1 µs; then bucket
// 1+2k holds [2^k, 1.5*2^k) µs and 2+2k holds [1.5*2^k, 2^(k+1)) µs.
func bucketOf(d time.Duration) int {
	us := d.Microseconds()
	if us < 1 {
		return 0
	}
	k := 63 - bits.LeadingZeros64(uint64(us))
	half := 0
	if k > 0 && us>>(k-1)&1 == 1 {
		half = 1
	}
	return min(1+2*k+half, waitBuckets-1)
}

// bucketUpper is the largest wait bucket b holds; the last bucket has no
// bound.
func bucketUpper(b int) time.Duration {
	switch b {
	case 0:
		return time.Microsecond
	case waitBuckets - 1:
		return math.MaxInt64
	}
	k := (b - 1) / 2
	upper := math.Ldexp(1.5, k)
	if (b-1)%2 == 1 {
		upper = math.Ldexp(2, k)
	}
	return time.Duration(upper * float64(time.Microsecond))
}

// Record counts one wait.
func (h *WaitHistogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.Buckets[bucketOf(d)]++
	h.Sum += d
	h.Max = max(h.Max, d)
}

// Count is the number of waits recorded.
func (h *WaitHistogram) Count() uint64 {
	var n uint64
	for _, c := range h.Buckets {
		n += c
	}
	return n
}

// Quantile estimates the q-th quantile (0 < q <= 1) as the upper bound of the
// bucket it falls in, capped at Max.
func (h *WaitHistogram) Quantile(q float64) time.Duration {
	n := h.Count()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	var seen uint64
	for b, c := range h.Buckets {
		if seen += c; seen >= rank {
			return min(bucketUpper(b), h.Max)
		}
	}
	return h.Max
}

// Merge adds o's counts into h.
func (h *WaitHistogram) Merge(o *WaitHistogram) {
	for b, c := range o.Buckets {
		h.Buckets[b] += c
	}
	h.Sum += o.Sum
	h.Max = max(h.Max, o.Max)
}

// WaitBucket is the index in Buckets that Record counts d in, so that a
// holder of few waits can keep them more compactly and build the histogram
// when asked (the pool actors do, see actors.waitHist).
func WaitBucket(d time.Duration) int { return bucketOf(max(d, 0)) }
