package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
)

// --run-time 1ns was taken: each timed run shrank to one pair per goroutine
// (calibrate cannot go below that), so ns/op measured the wake-up of the
// run's goroutines and the heap reads around it, not the pool, and the
// tables and targets printed it as a figure like any other. A run time under
// a millisecond is refused before any work; 0 still means the default.
func TestBenchRefusesARunTimeTooShortToMeasure(t *testing.T) {
	for _, rt := range []string{"1ns", "999µs", "-1ms"} {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"bench", "--quiet", "--only", "token_economy", "--run-time", rt}, &out, &errb)
		assert.Equal(t, exitUsage, code, rt)
		assert.Empty(t, out.String(), "%s: refused before any work", rt)
	}
	var out, errb bytes.Buffer
	run(context.Background(), []string{"bench", "--quiet", "--only", "token_economy", "--run-time", "1ns"}, &out, &errb)
	assert.Contains(t, errb.String(), "--run-time must be at least 1ms (got 1ns)")
}
