package fleet

import (
	"context"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Only this process writes its holder key, but another program can delete or
// lower it. The others then read a lower sum and may take the permits this
// process still uses, so the fleet could pass the cap for as long as the
// process goes on counting on them. The watch sees such a change
// (ownKeyLowered) and asks the worker to read the key (checkOwnKey); the
// worker then counts only what etcd records, takes the rest back through a
// fetch (with its compare, as any other take) and sheds what it cannot. When
// the read finds etcd recording more than the process counts on (a
// give-back that lost its compare), it writes the key down (writeOwnCount).

// ownKeyLowered says whether a watch event on this process's holder key may
// leave etcd recording fewer permits than the process counts on (held). Its
// own writes never do: a give-back lowers held before its write leaves. A late
// event of an older write of its own can match too; the worker's read then
// finds nothing wrong. Called with mu held.
func ownKeyLowered(ev *clientv3.Event, held int) bool {
	if ev.Type == clientv3.EventTypeDelete {
		return held > 0
	}
	n, err := parseHolderCount(ev.Kv.Value)
	return err != nil || n < held
}

// noteOwnKey flags a check of this process's holder key when ev may have
// lowered it, and notes the deletion of its waiting key: the others then no
// longer keep to their fair share, so a process that still waits must put it
// again. The worker compares the deletion's revision with that of its last
// put of the key, so a late event of one of its own deletions does not
// count. It notes as well a deletion or change of its cap key (see
// ownCapChanged), which the worker puts again. Called with mu held.
func (b *Budget) noteOwnKey(ev *clientv3.Event) {
	if b.lease == 0 {
		return
	}
	switch string(ev.Kv.Key) {
	case b.holderKey(b.lease):
		if ownKeyLowered(ev, b.held) {
			b.checkOwn = true
		}
	case b.waitingKeyOf(b.lease):
		if ev.Type == clientv3.EventTypeDelete {
			b.waitGoneRev = max(b.waitGoneRev, ev.Kv.ModRevision)
		}
	case b.capKeyOf(b.lease):
		if b.ownCapChanged(ev.Kv, ev.Type == clientv3.EventTypeDelete) {
			b.capChangedRev = max(b.capChangedRev, ev.Kv.ModRevision)
		}
	}
}

// checkOwnKey reads this process's holder key and, when etcd records fewer
// permits than held, lowers held to that at once: the process stops using
// the others at once, and the step's fetch takes back what the cap allows.
// It runs on the worker, between its own writes, so etcd never records less
// than held unless another program wrote the key (or a write of its own that
// timed out was applied late). When etcd records more than held, it writes
// the key down to held (see writeOwnCount). It says false when etcd could not be
// read.
func (b *Budget) checkOwnKey(w *worker, lease clientv3.LeaseID) bool {
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.TTL/3)
	defer cancel()
	key := b.holderKey(lease)
	r, err := b.cli.Get(ctx, key)
	if err != nil {
		b.mu.Lock()
		b.checkOwn = true
		b.mu.Unlock()
		b.fail(w, "read own holder key", err)
		return false
	}
	n, rev := ownCount(r.Kvs)
	w.ownRev = rev
	b.mu.Lock()
	was, current := b.held, b.lease == lease
	if current && n < b.held {
		b.held = n
	}
	inUse := b.inUse
	b.mu.Unlock()
	if n < was {
		b.cfg.Logger.Warn("fleet: another program lowered or deleted this process's holder key; it takes its permits back as far as the cap allows and closes connections beyond that",
			"key", key, "held", was, "etcd", n, "in_use", inUse)
	}
	if current && n > was {
		// A give-back that lost its compare dropped its permits from held
		// before its write (so that none is handed out meanwhile), and the
		// key was written in between, by a write of its own applied late or
		// by another program. Nothing else would write the key until the
		// next fetch or give-back, which an idle process (its MinSize
		// connections, say) may not make for as long as it lives: the fleet
		// would lack those permits meanwhile. The write compares the key's
		// revision with the read's, so it never lowers a count written since.
		b.writeOwnCount(w, lease, key, was, rev)
	}
	return true
}

// ownCount is the count of this process's holder key as read (0 when it is
// missing, or is not a count: the process cannot count on it) and its mod
// revision (0 when missing).
func ownCount(kvs []*mvccpb.KeyValue) (int, int64) {
	if len(kvs) == 0 {
		return 0, 0
	}
	n, err := parseHolderCount(kvs[0].Value)
	if err != nil {
		n = 0
	}
	return n, kvs[0].ModRevision
}
