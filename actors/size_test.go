package actors

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// TestPoolFitsItsSizeClass: every identity has a Pool, and Go rounds each
// allocation up to a size class, so a few bytes more can cost a hundred per
// pool: Pool, with the 8-byte header Go puts before each object over 512
// bytes that holds pointers, must stay within the 704-byte class (it was
// 1,416 bytes in the 1,536 class before the wait histogram went compact,
// the flags were packed, the rare state moved behind a pointer and the
// configuration became shared),
// poolActor within 128 (it was 176), and conn (one per open connection)
// within 144: it was 128 until it kept its holder for a forced close (see
// conn.holder), 16 bytes per open connection, each of which holds a socket
// and the driver's buffers, kilobytes.
func TestPoolFitsItsSizeClass(t *testing.T) {
	const mallocHeader = 8
	assert.LessOrEqual(t, unsafe.Sizeof(Pool{})+mallocHeader, uintptr(704), "Pool")
	assert.LessOrEqual(t, unsafe.Sizeof(poolActor{}), uintptr(128), "poolActor")
	assert.LessOrEqual(t, unsafe.Sizeof(conn{}), uintptr(144), "conn")
}

// TestHitPathFieldsComeFirst: every field the hit path (an acquire granted
// an idle connection at once, and its release) reads or writes lies in the
// first six cache lines of the Pool's allocation (384 bytes, less the
// 8-byte header Go puts before it), so that a hit on a pool whose state is
// out of the core's cache misses on those lines and no more. With many
// identities that is most hits (docs/BENCHMARKS.md, many_identities;
// BenchmarkStepHitCold measures it).
func TestHitPathFieldsComeFirst(t *testing.T) {
	const mallocHeader, hitLines = 8, 6
	var p Pool
	end := func(offset, size uintptr) uintptr { return offset + size }
	hot := map[string]uintptr{
		"cfg":            end(unsafe.Offsetof(p.cfg), unsafe.Sizeof(p.cfg)),
		"flags":          end(unsafe.Offsetof(p.mintRetried), 1),
		"out":            end(unsafe.Offsetof(p.out), unsafe.Sizeof(p.out)),
		"rare":           end(unsafe.Offsetof(p.rare), unsafe.Sizeof(p.rare)),
		"conns":          end(unsafe.Offsetof(p.conns), unsafe.Sizeof(p.conns)),
		"idle":           end(unsafe.Offsetof(p.idle), unsafe.Sizeof(p.idle)),
		"busy":           end(unsafe.Offsetof(p.busy), unsafe.Sizeof(p.busy)),
		"closesInFlight": end(unsafe.Offsetof(p.closesInFlight), unsafe.Sizeof(p.closesInFlight)),
		"dialing":        end(unsafe.Offsetof(p.dialing), unsafe.Sizeof(p.dialing)),
		"awaitingToken":  end(unsafe.Offsetof(p.awaitingToken), unsafe.Sizeof(p.awaitingToken)),
		"awaitingPermit": end(unsafe.Offsetof(p.awaitingPermit), unsafe.Sizeof(p.awaitingPermit)),
		"owed":           end(unsafe.Offsetof(p.owed), unsafe.Sizeof(p.owed)),
		"seen":           end(unsafe.Offsetof(p.seen), unsafe.Sizeof(p.seen)),
		"waiters.free":   end(unsafe.Offsetof(p.waiters)+unsafe.Offsetof(p.waiters.free), unsafe.Sizeof(p.waiters.free)),
		"lastActivity":   end(unsafe.Offsetof(p.lastActivity), unsafe.Sizeof(p.lastActivity)),
		"wakeAt":         end(unsafe.Offsetof(p.wakeAt), unsafe.Sizeof(p.wakeAt)),
		"wait":           end(unsafe.Offsetof(p.wait), unsafe.Sizeof(p.wait)),
		"stats.misses":   end(unsafe.Offsetof(p.stats)+unsafe.Offsetof(p.stats.misses), unsafe.Sizeof(p.stats.misses)),
	}
	for name, e := range hot {
		assert.LessOrEqual(t, e+mallocHeader, uintptr(hitLines*64), "%s ends past the hit path's cache lines", name)
	}
	// The waiters' live count and the two slices whose capacity Step reads
	// come before the rest of the queue.
	assert.Less(t, unsafe.Offsetof(p.waiters.free), unsafe.Offsetof(p.waiters.head))
}
