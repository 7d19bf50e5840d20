//go:build race

package memdb_test

// raceEnabled skips allocation counts, which the race detector inflates.
const raceEnabled = true
