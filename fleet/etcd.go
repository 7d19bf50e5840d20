package fleet

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func fmtHex(v int64) string { return strconv.FormatInt(v, 16) }

// maxTries bounds the read-and-compare rounds of one fetch when other
// processes keep changing the holders in between.
const maxTries = 5

// fetch takes up to k permits, as many as the cap leaves. It reports whether
// it took any; when the fleet is full it says so to the manager and records
// this process as waiting, so that holders give back their spares.
func (b *Budget) fetch(w *worker, lease clientv3.LeaseID, k int) bool {
	holders, caps := b.cfg.Prefix+"h/", b.cfg.Prefix+"c/"
	if !w.capKey && !b.putCapKey(w, lease) {
		return false
	}
	for range maxTries {
		start := time.Now()
		b.mu.Lock()
		gen := b.holdersGen
		b.mu.Unlock()
		ctx, cancel := context.WithTimeout(b.ctx, b.cfg.TTL/3)
		// The holders and the caps, at one revision.
		got, err := b.cli.Txn(ctx).Then(clientv3.OpGet(holders, clientv3.WithPrefix()), clientv3.OpGet(caps, clientv3.WithPrefix())).Commit()
		if err != nil {
			cancel()
			b.fail(w, "read holders", err)
			return false
		}
		rev := got.Header.Revision
		capNow, err := b.fleetCap(got.Responses[1].GetResponseRange().Kvs)
		if err != nil {
			cancel()
			b.fail(w, "read caps", err)
			return false
		}
		mine, sum := 0, 0
		me := b.holderKey(lease)
		for _, kv := range got.Responses[0].GetResponseRange().Kvs {
			if _, _, ok := b.splitKey(string(kv.Key)); !ok {
				continue // another budget's, nested under this prefix
			}
			n, err := parseHolderCount(kv.Value)
			if err != nil {
				// Fail closed: with a count that cannot be read, the
				// fleet's sum is unknown, so nothing may be taken.
				cancel()
				if w.badHolder != string(kv.Key) {
					w.badHolder = string(kv.Key)
					b.cfg.Logger.Warn("fleet: a holder key's value is not a count; no permit is taken while it stays", "key", w.badHolder, "error", err)
				}
				b.fail(w, "read holders", fmt.Errorf("key %s: %w", kv.Key, err))
				return false
			}
			sum += n
			if string(kv.Key) == me {
				mine = n
			}
		}
		w.badHolder = ""
		b.mu.Lock()
		b.st.FleetHeld = sum
		b.mu.Unlock()
		take := min(k, capNow-sum)
		if take <= 0 {
			cancel()
			b.mu.Lock()
			b.st.Refused++
			b.mu.Unlock()
			w.full, w.fullGen, w.fullAt = true, gen, time.Now()
			if !w.waitingKey {
				b.setWaiting(w, lease, true)
			}
			b.signal(fullSignal)
			return false
		}
		runHook(&beforeTake)
		// Write the new count only if no holder key changed since the read:
		// then sum is still the fleet's total and sum+take <= capNow. And
		// only if no cap key was put since: a process that came meanwhile
		// may state a smaller cap.
		r, err := b.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(holders), "<", rev+1).WithPrefix(),
				clientv3.Compare(clientv3.ModRevision(caps), "<", rev+1).WithPrefix()).
			Then(clientv3.OpPut(me, strconv.Itoa(mine+take), clientv3.WithLease(lease))).
			Commit()
		cancel()
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			b.lost(lease, "etcd expired it")
			return false
		}
		if err != nil {
			b.fail(w, "take permits", err)
			return false
		}
		if !r.Succeeded {
			continue // another process changed the holders: read again
		}
		w.ownRev = r.Header.Revision
		b.mu.Lock()
		if b.lease == lease {
			b.held = mine + take
			b.st.FleetHeld = sum + take
		}
		// Spares just fetched are not idle: without this, after a quiet
		// IdleReturn a step before the manager's take (one our own put's
		// watch event starts) would give them back at once.
		b.lastTake = time.Now()
		w.full = false
		b.st.Fetches++
		b.st.FetchTime += time.Since(start)
		b.mu.Unlock()
		if w.waitingKey && take >= k-b.cfg.Batch {
			b.setWaiting(w, lease, false)
		}
		return true
	}
	w.retryAt = time.Now().Add(retryAfter)
	return false
}

// giveBack returns n spare permits. The count drops here first, so they are
// not handed out while the write is on its way; if the write fails, etcd
// keeps more than the process uses until the next write, which is safe.
func (b *Budget) giveBack(w *worker, lease clientv3.LeaseID, n int) {
	b.mu.Lock()
	if b.lease != lease || b.held-b.inUse < n {
		b.mu.Unlock()
		return
	}
	b.held -= n
	left := b.held
	b.mu.Unlock()
	runHook(&beforeGiveBack)
	b.writeOwnCount(w, lease, b.holderKey(lease), left, w.ownRev)
}

// writeOwnCount writes this process's holder key (key) down to n (deleting
// it at 0), only if the key is as this process last wrote or read it (rev;
// a missing key's revision compares as 0): a put must never raise a count
// that another program lowered meanwhile, and which the others may have
// taken up. A compare that fails has the worker read the key again (see
// checkOwnKey); a lease etcd no longer has is dropped.
func (b *Budget) writeOwnCount(w *worker, lease clientv3.LeaseID, key string, n int, rev int64) {
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.TTL/3)
	defer cancel()
	op := clientv3.OpPut(key, strconv.Itoa(n), clientv3.WithLease(lease))
	if n == 0 {
		op = clientv3.OpDelete(key)
	}
	r, err := b.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).Then(op).Commit()
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		b.lost(lease, "etcd expired it")
		return
	}
	if err != nil {
		b.fail(w, "return permits", err)
		return
	}
	b.mu.Lock()
	if !r.Succeeded {
		b.checkOwn = true // written meanwhile: read it again
		b.mu.Unlock()
		b.wake()
		return
	}
	b.st.Returns++
	b.mu.Unlock()
	w.ownRev = 0
	if n > 0 {
		w.ownRev = r.Header.Revision
	}
}

// setWaiting puts or deletes this process's waiting key, which tells the
// others to give back their spare permits.
func (b *Budget) setWaiting(w *worker, lease clientv3.LeaseID, on bool) {
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.TTL/3)
	defer cancel()
	var err error
	if on {
		var r *clientv3.PutResponse
		r, err = b.cli.Put(ctx, b.waitingKeyOf(lease), "1", clientv3.WithLease(lease))
		if err == nil {
			w.waitRev = r.Header.Revision
		}
	} else {
		_, err = b.cli.Delete(ctx, b.waitingKeyOf(lease))
	}
	if err != nil {
		b.fail(w, "waiting key", err)
		return
	}
	w.waitingKey = on
}

// watch follows the budget's prefix: a change of holders may free permits
// for a process waiting, and another process's waiting key asks this one to
// give back its spares.
func (b *Budget) watch() {
	defer b.wg.Done()
	for b.ctx.Err() == nil {
		// The watch starts right after the revision the read saw: a key
		// put in between (another process's waiting key, say) would
		// otherwise be missed until the next restart of the watch.
		rev, ok := b.readKeys()
		if !ok {
			select {
			case <-b.ctx.Done():
			case <-time.After(retryAfter):
			}
			continue
		}
		// The read may show what the worker must act on (another process
		// now waits, this one's holder key was lowered, a cap changed), and
		// no event of the new watch will say so: wake it, rather than leave
		// it to its next step, which may be a renewal (TTL/3) away.
		b.wake()
		runHook(&afterKeysRead)
		ch := b.cli.Watch(clientv3.WithRequireLeader(b.ctx), b.cfg.Prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
		for resp := range ch {
			for _, ev := range resp.Events {
				key := string(ev.Kv.Key)
				b.mu.Lock()
				other := b.noteKey(key, ev.Kv.Value, ev.Type == clientv3.EventTypeDelete)
				b.noteOwnKey(ev)
				b.mu.Unlock()
				if other != 0 {
					b.logCapMismatch(key, other)
				}
			}
			b.wake()
		}
		select {
		case <-b.ctx.Done():
		case <-time.After(retryAfter):
		}
	}
}

// readKeys loads the holder, waiting and cap keys when a watch (re)starts, since
// events from before the watch are not replayed, and returns the revision
// they were read at.
func (b *Budget) readKeys() (int64, bool) {
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.TTL/3)
	defer cancel()
	r, err := b.cli.Get(ctx, b.cfg.Prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, false
	}
	mismatch := make(map[string]int)
	b.mu.Lock()
	clear(b.waiters)
	clear(b.holders)
	clear(b.caps)
	ownCap, ownWaiting := b.capKeyOf(b.lease), b.waitingKeyOf(b.lease)
	var ownCapKV *mvccpb.KeyValue
	waiting := false
	for _, kv := range r.Kvs {
		switch string(kv.Key) {
		case ownCap:
			ownCapKV = kv
		case ownWaiting:
			waiting = true
		}
		if other := b.noteKey(string(kv.Key), kv.Value, false); other != 0 {
			mismatch[string(kv.Key)] = other
		}
	}
	// Events missed while the watch was down may have lowered this
	// process's key, or deleted or changed its cap key or deleted its
	// waiting key: the read's revision counts as that of the change, so a
	// put of the worker's after the read is not done again (and a missing
	// waiting key the worker deleted itself, or never put, changes nothing).
	b.checkOwn = b.lease != 0
	if b.lease != 0 && b.ownCapChanged(ownCapKV, false) {
		b.capChangedRev = max(b.capChangedRev, r.Header.Revision)
	}
	if b.lease != 0 && !waiting {
		b.waitGoneRev = max(b.waitGoneRev, r.Header.Revision)
	}
	b.mu.Unlock()
	for key, other := range mismatch {
		b.logCapMismatch(key, other)
	}
	return r.Header.Revision, true
}

// noteKey follows one key of the prefix. It returns another process's cap
// to log, as noteCap. Called with mu held.
func (b *Budget) noteKey(key string, value []byte, deleted bool) int {
	kind, name, ok := b.splitKey(key)
	if !ok {
		return 0
	}
	if kind == "c" {
		return b.noteCap(name, value, deleted)
	}
	set := b.waiters
	if kind == "h" {
		b.holdersGen++
		set = b.holders
	}
	if deleted {
		delete(set, name)
	} else {
		set[name] = true
	}
	return 0
}

// splitKey splits a key of the prefix into its kind ("h" for a holder, "w"
// for a waiting process, "c" for a process's cap) and its process's name, or says false for any other
// key: one of another budget whose prefix lies under this one's, say, which
// must count for that budget only.
func (b *Budget) splitKey(key string) (kind, name string, ok bool) {
	kind, name, ok = strings.Cut(strings.TrimPrefix(key, b.cfg.Prefix), "/")
	if !ok || (kind != "h" && kind != "w" && kind != "c") || name == "" || strings.Contains(name, "/") {
		return "", "", false
	}
	return kind, name, true
}
