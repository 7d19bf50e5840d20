//go:build !race

package memdb_test

const raceEnabled = false
