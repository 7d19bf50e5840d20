//go:build unix

package manager

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has run (user and system, all
// threads). It measures the work done, which other processes hogging the
// machine cannot advance: a wall-clock margin is one a starved scheduler
// passes, a margin of this process's own work is not.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
