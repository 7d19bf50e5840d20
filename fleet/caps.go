package fleet

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Every process of a fleet must use the same Cap, but nothing in the
// configuration makes them. Two processes with different caps would each
// enforce their own against the shared sum, and the one with the larger cap
// would pass the smaller. So each process records its cap under its lease,
// at Prefix+"c/"+lease, before it takes its first permit; every fetch reads
// these keys with the holders, at the same revision, and keeps to the
// smallest (its transaction also fails if a cap key was put after its read).
// The watch follows them too: a process keeps to the smallest cap between its
// fetches as well (it sheds beyond it), and logs an error naming both caps
// when another process states a different one. A process whose own cap key
// another program deletes or changes puts it again (ownCapChanged): until
// then the others no longer keep to its cap.

func (b *Budget) capKeyOf(lease clientv3.LeaseID) string {
	return b.cfg.Prefix + "c/" + leaseName(lease)
}

// putCapKey records this process's cap under its lease. It says false when
// etcd refused or could not be reached; no permit may be taken before.
func (b *Budget) putCapKey(w *worker, lease clientv3.LeaseID) bool {
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.TTL/3)
	defer cancel()
	r, err := b.cli.Put(ctx, b.capKeyOf(lease), strconv.Itoa(b.cfg.Cap), clientv3.WithLease(lease))
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		b.lost(lease, "etcd expired it")
		return false
	}
	if err != nil {
		b.fail(w, "record the cap", err)
		return false
	}
	w.capKey, w.capRev = true, r.Header.Revision
	return true
}

// putCapKeyAgain puts this process's cap key again after another program
// deleted or changed it (see ownCapChanged), and says so in a warning: the
// others kept to another cap meanwhile. It says false as putCapKey does.
func (b *Budget) putCapKeyAgain(w *worker, lease clientv3.LeaseID) bool {
	if !b.putCapKey(w, lease) {
		return false
	}
	b.cfg.Logger.Warn("fleet: another program deleted or changed this process's cap key; it put the key again",
		"key", b.capKeyOf(lease), "cap", b.cfg.Cap)
	return true
}

// ownCapChanged says whether this process's cap key, as the watch or a read
// shows it (kv nil or deleted when it is missing), is not as the process puts
// it: its cap, under its lease. Only another program leaves it so (or etcd,
// expiring the lease, which the put again then finds). The others would no
// longer keep to this process's cap, or would keep to another; and a key
// without the lease would outlive the process. Called with mu held.
func (b *Budget) ownCapChanged(kv *mvccpb.KeyValue, deleted bool) bool {
	return deleted || kv == nil || string(kv.Value) != strconv.Itoa(b.cfg.Cap) || clientv3.LeaseID(kv.Lease) != b.lease
}

// fleetCap is the smallest cap among this process's and those the cap keys
// read (kvs) state; the fetch takes no more than it leaves. It fails on a
// value that is not a count (the fetch then fails closed, as for a holder's
// count).
func (b *Budget) fleetCap(kvs []*mvccpb.KeyValue) (int, error) {
	capNow := b.cfg.Cap
	for _, kv := range kvs {
		if _, _, ok := b.splitKey(string(kv.Key)); !ok {
			continue // another budget's, nested under this prefix
		}
		c, err := parseHolderCount(kv.Value)
		if err != nil {
			return 0, fmt.Errorf("cap key %s: %w", kv.Key, err)
		}
		capNow = min(capNow, c)
	}
	return capNow, nil
}

// noteCap follows one cap key as the watch sees it, and sets capNow, the
// cap the process keeps to between fetches (its fair share, what it may
// keep). It returns the other process's cap when it differs from this one's
// and was not known before, for the caller to log once mu is released; 0
// otherwise. A value that is not a count is left to the fetch, which fails
// closed on it. Called with mu held.
func (b *Budget) noteCap(name string, value []byte, deleted bool) int {
	c, err := parseHolderCount(value)
	was, known := b.caps[name]
	switch {
	case deleted || err != nil:
		delete(b.caps, name)
	default:
		b.caps[name] = c
	}
	b.capNow = b.cfg.Cap
	for _, c := range b.caps {
		b.capNow = min(b.capNow, c)
	}
	if deleted || err != nil || c == b.cfg.Cap || (known && was == c) {
		return 0
	}
	return c
}

// logCapMismatch says that another process (key) states a different cap.
func (b *Budget) logCapMismatch(key string, other int) {
	b.cfg.Logger.Error("fleet: processes on this prefix state different caps; the fleet keeps to the smaller",
		"prefix", b.cfg.Prefix, "cap", b.cfg.Cap, "other_cap", other, "key", key)
}
