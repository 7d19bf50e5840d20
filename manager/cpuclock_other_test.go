//go:build !unix

package manager

import "time"

var processStart = time.Now()

// processCPU falls back to the time since the process started where
// getrusage is missing: a wall clock, as loaded as the machine.
func processCPU() time.Duration { return time.Since(processStart) }
