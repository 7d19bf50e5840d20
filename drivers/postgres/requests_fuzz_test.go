package postgres

import (
	"encoding/binary"
	"testing"
)

// FuzzRequestWatch feeds the request watch the bytes pgx writes, as any
// bytes, split anywhere. It must never panic, and what it concludes (dirty,
// lost, the requests and Parses it counted) must not depend on how the
// writes were split: a frame collected across writes and one inspected in
// place are the same frame. Inputs stay far below maxInspectedFrame, the one
// size past which a split frame (only) counts as dirty. Its seed corpus runs
// with every go test.
func FuzzRequestWatch(f *testing.F) {
	startup := binary.BigEndian.AppendUint32(nil, 8)
	startup = binary.BigEndian.AppendUint32(startup, 196608)
	parse := frame('P', "stmtcache_x\x00SELECT 1\x00\x00\x00")
	f.Add(cat(startup, frame('Q', "SELECT 1"), parse, frame('S', "")), uint8(1))
	f.Add(cat(startup, frame('Q', "PREPARE p AS SELECT 1"), frame('X', "")), uint8(3))
	f.Add(cat(startup, frame('P', "\x00select pg_advisory_lock(1)\x00\x00\x00"), frame('S', "")), uint8(2))
	f.Add(cat(startup, []byte{'Q', 0, 0, 0, 3}), uint8(4))
	f.Add(cat(startup, []byte{'Q', 0x80, 0, 0, 0}), uint8(5))
	f.Add([]byte{0, 0, 0, 4, 'S', 0, 0, 0, 4}, uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		whole := watch(data, len(data)+1)
		split := watch(data, int(step%7)+1)
		if whole != split {
			t.Fatalf("the split changed what the watch saw:\nwhole %+v\nsplit %+v", whole, split)
		}
	})
}

// watched is what a requestWatch concluded.
type watched struct {
	dirty, lost, started bool
	parses, requests     int
}

// watch runs a requestWatch over data in writes of size step.
func watch(data []byte, step int) watched {
	var r requestWatch
	for i := 0; i < len(data); i += step {
		r.observe(data[i:min(i+step, len(data))])
	}
	return watched{dirty: r.dirty, lost: r.lost, started: r.started, parses: r.parses, requests: r.requests}
}
