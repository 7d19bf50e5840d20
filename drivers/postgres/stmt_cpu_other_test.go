//go:build !linux

package postgres_test

import "time"

// cpuUsed is measured on Linux only.
func cpuUsed([]int) (client, server time.Duration, ok bool) { return 0, 0, false }
