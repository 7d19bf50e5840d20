package actors

import (
	"math"
	"time"

	"github.com/idpool/idpool/messages"
)

// waitInline is how many distinct buckets waitHist holds before it needs
// the full histogram.
const waitInline = 4

// waitHist is the pool's histogram of acquire waits. The full
// messages.WaitHistogram is 544 bytes, over a third of an idle pool, while
// an identity that acquired a few times has counts in a few buckets only;
// so the counts of up to waitInline buckets are kept here in 48 bytes, and
// the full histogram is allocated when a fifth bucket (or a count past
// 2^32-1) needs it. Stats builds the same histogram either way.
type waitHist struct {
	sum, max time.Duration
	full     *messages.WaitHistogram
	n        [waitInline]uint32
	// b holds each used slot's bucket + 1; 0 marks a free slot.
	b [waitInline]uint8
}

// record counts one wait, as messages.WaitHistogram.Record does.
func (h *waitHist) record(d time.Duration) {
	if h.full != nil {
		h.full.Record(d)
		return
	}
	d = max(d, 0)
	b := uint8(messages.WaitBucket(d) + 1)
	for i := range h.b {
		if h.b[i] == 0 {
			h.b[i] = b
		}
		if h.b[i] == b && h.n[i] < math.MaxUint32 {
			h.n[i]++
			h.sum += d
			h.max = max(h.max, d)
			return
		}
	}
	full := h.histogram()
	full.Record(d)
	*h = waitHist{full: &full}
}

// histogram returns the waits recorded as a messages.WaitHistogram.
func (h *waitHist) histogram() messages.WaitHistogram {
	if h.full != nil {
		return *h.full
	}
	w := messages.WaitHistogram{Sum: h.sum, Max: h.max}
	for i, b := range h.b {
		if b != 0 {
			w.Buckets[b-1] += uint64(h.n[i])
		}
	}
	return w
}
