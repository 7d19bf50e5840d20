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
}

// routeBuckets spreads routes so that publishing one copies only a small
// map: the table is copy-on-write per bucket, written by the manager actor
// alone and read by every acquire without a lock.
const routeBuckets = 256

type routeTable struct {
	seed    maphash.Seed
	buckets [routeBuckets]atomic.Pointer[map[string]*route]
}

func newRouteTable() *routeTable { return &routeTable{seed: maphash.MakeSeed()} }

func (t *routeTable) bucket(disc string) *atomic.Pointer[map[string]*route] {
	return &t.buckets[maphash.String(t.seed, disc)%routeBuckets]
}

// get returns the route of disc, or nil.
func (t *routeTable) get(disc string) *route {
	if m := t.bucket(disc).Load(); m != nil {
		return (*m)[disc]
	}
	return nil
}

// put publishes r for disc. Only the manager actor calls it.
func (t *routeTable) put(disc string, r *route) {
	b := t.bucket(disc)
	old := b.Load()
	next := make(map[string]*route, 1+lenOf(old))
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	next[disc] = r
	b.Store(&next)
}

// remove withdraws the route of disc. Only the manager actor calls it.
func (t *routeTable) remove(disc string) {
	b := t.bucket(disc)
	old := b.Load()
	if old == nil {
		return
	}
	next := make(map[string]*route, len(*old))
	for k, v := range *old {
		if k != disc {
			next[k] = v
		}
	}
	b.Store(&next)
}

func lenOf(m *map[string]*route) int {
	if m == nil {
		return 0
	}
	return len(*m)
}
