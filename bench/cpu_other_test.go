//go:build !unix

package bench

import "time"

// processCPU is not measured here; BenchmarkFloor then reports no cpu-ns/op.
func processCPU() time.Duration { return 0 }
