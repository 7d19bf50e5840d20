package virtual

import (
	"testing"
	"time"

	"github.com/idpool/idpool/sim/workload"
)

// BenchmarkVirtualAcquires reports simulated acquires per wall-clock
// second for the default workload.
func BenchmarkVirtualAcquires(b *testing.B) {
	var acquires uint64
	start := time.Now()
	for i := range b.N {
		cfg := workload.Default()
		cfg.Seed = uint64(i)
		cfg.Duration = 5 * time.Second
		r, err := Run(cfg, Options{})
		if err != nil {
			b.Fatal(err)
		}
		acquires += r.Acquires
	}
	b.ReportMetric(float64(acquires)/time.Since(start).Seconds(), "acquires/s")
	b.ReportMetric(float64(acquires)/float64(b.N), "acquires/op")
}
