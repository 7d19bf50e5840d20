package manager

import (
	"hash/maphash"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// route is how callers reach the pool actor of one identity without going
// through the manager actor. The manager actor creates and retires routes;
// callers only read them.
type route struct {
	pid *actor.PID
	// proc is pid's process, looked up once when the pool is spawned: a
	// send through it skips the PID's own lookup (a pointer to a boxed
	// interface, then the process's dead flag), whose dependent loads miss
	// the cache on every acquire once there are thousands of pools. It is
	// safe only because the retirement handshake (sent, closed) keeps every
	// acquire sent over the route from reaching a pool that has stopped,
	// which protoactor's dead-letter routing would otherwise catch.
	proc actor.Process
	// sent counts acquires sent to the pool, by callers directly and by the
	// manager. The pool counts those it received; retirement needs the two
	// equal, so no acquire can be on its way to a pool that goes.
	sent atomic.Int64
	// closed stops direct sends: the pool is asking to retire, or closing.
	// A caller increments sent, then checks closed; the manager sets closed,
	// then reads sent. With sequentially consistent atomics either the
	// caller sees closed (and goes through the manager instead) or the
	// manager sees the increment (and refuses the retirement).
	closed atomic.Bool
	// ids numbers the acquires sent over the route (see Manager.send). It
	// sits on the line sent keeps busy, which the caller has just written:
	// one counter for every acquire of the manager was a line that every
	// core wrote (see docs/BENCHMARKS.md, many_identities).
	ids atomic.Uint64
	// series caches the pool's metric attributes under
	// Config.MetricsPerPool (see metricAttrs.of); nil until first used.
	series atomic.Pointer[seriesAttrs]
}

// routeBuckets spreads routes so that publishing one copies only a few
// entries: each bucket is an immutable slice, replaced (copy-on-write) by the
// manager actor alone and read by every acquire without a lock. Slices rather
// than maps keep an identity's share of the table near 60 bytes, which
// matters when tens of thousands of identity pools sit idle; with 1,024
// buckets a lookup scans about ten entries at 10,000 identities.
const routeBuckets = 1024

// routeEntry keeps its discriminator's hash, so that a lookup compares
// the strings of only the entry whose hash matches: comparing each entry's
// string read its bytes from memory of their own, a cache miss per entry
// once there are thousands of identities.
type routeEntry struct {
	hash uint64
	disc string
	r    *route
}

type routeTable struct {
	seed    maphash.Seed
	buckets [routeBuckets]atomic.Pointer[[]routeEntry]
}

func newRouteTable() *routeTable { return &routeTable{seed: maphash.MakeSeed()} }

func (t *routeTable) bucket(disc string) (*atomic.Pointer[[]routeEntry], uint64) {
	h := maphash.String(t.seed, disc)
	return &t.buckets[h%routeBuckets], h
}

// get returns the route of disc, or nil.
func (t *routeTable) get(disc string) *route {
	b, h := t.bucket(disc)
	if b := b.Load(); b != nil {
		for _, e := range *b {
			if e.hash == h && e.disc == disc {
				return e.r
			}
		}
	}
	return nil
}

// put publishes r for disc, which has no route yet. Only the manager actor
// calls it.
func (t *routeTable) put(disc string, r *route) {
	b, h := t.bucket(disc)
	var next []routeEntry
	if old := b.Load(); old != nil {
		next = make([]routeEntry, len(*old), len(*old)+1)
		copy(next, *old)
	}
	next = append(next, routeEntry{h, disc, r})
	b.Store(&next)
}

// remove withdraws the route of disc. Only the manager actor calls it.
func (t *routeTable) remove(disc string) {
	b, _ := t.bucket(disc)
	old := b.Load()
	if old == nil {
		return
	}
	next := make([]routeEntry, 0, len(*old))
	for _, e := range *old {
		if e.disc != disc {
			next = append(next, e)
		}
	}
	if len(next) == 0 {
		b.Store(nil)
		return
	}
	b.Store(&next)
}
