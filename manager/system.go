package manager

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
	cmap "github.com/orcaman/concurrent-map"
)

// registryBuckets is how many concurrent maps the actor system's process
// registry keeps (each is concurrent-map's 32 shards, so 32 Go maps).
//
// protoactor's own registry has 1,024 of them: 32,768 Go maps, about 2.8 MiB
// for an empty actor system. Worse for idpool, every pool actor is a new
// registry entry under a new name (`pool-<id>`, never reused), and a Go map keeps
// the first group (about 288 bytes) of every map ever touched, so 10,000
// identities that came and went kept about 2.5 MB spread over thousands of
// maps that were all empty again. With one bucket, the entries of all pools
// share 32 maps, whose deleted slots the next pools reuse: what stays is
// the room the peak number of pools alive at once needed (about 40 bytes
// per pool in a swiss table), not a group per name ever seen.
//
// Lookups are not on the hot path: a PID caches its process after the first
// send, and the registry is read again only when that process has died.
// Adds and removes are the manager's spawns and stops, one at a time. So 32
// shards of locking are ample.
const registryBuckets = 1

// newActorSystem is the actor system of one Manager: protoactor's, with its
// logger (see protoactorLogger) and a small process registry (see
// registryBuckets).
func newActorSystem(l *slog.Logger) *actor.ActorSystem {
	system := actor.NewActorSystem(actor.WithLoggerFactory(protoactorLogger(l)))
	shrinkRegistry(system.ProcessRegistry)
	return system
}

// shrinkRegistry replaces the registry's maps by registryBuckets fresh ones
// holding the same entries. It must run before the registry is shared: right
// after NewActorSystem, which starts no goroutine and registers only its
// own processes (the event stream, the dead-letter process), which are
// copied over. protoactor finds a process's map by hash modulo the number
// of maps (SliceMap.GetBucket), so any number of them is valid.
func shrinkRegistry(r *actor.ProcessRegistryValue) {
	small := &actor.SliceMap{LocalPIDs: make([]cmap.ConcurrentMap, registryBuckets)}
	for i := range small.LocalPIDs {
		small.LocalPIDs[i] = cmap.New()
	}
	for _, m := range r.LocalPIDs.LocalPIDs {
		m.IterCb(func(id string, p any) { small.GetBucket(id).Set(id, p) })
	}
	r.LocalPIDs = small
}
