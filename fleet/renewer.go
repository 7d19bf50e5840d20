package fleet

import (
	"context"
	"errors"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// keepAlive renews the lease every TTL/3, on a goroutine of its own. The
// worker (run) used to renew between its other calls, so a renewal that fell
// due while a fetch, a give-back or a put of the cap or waiting key waited on
// etcd went out only after them. etcd's writes go through its raft log and a
// disk sync, and a slow disk (or a busy cluster) makes them slow up to their
// deadline (TTL/3 each), while the leader answers a renewal from memory: a
// step of a few slow writes outlasted what was left of the lease after its
// last renewal (TTL − margin − TTL/3: 0.83s at a TTL of 2s), and the process
// counted a lease etcd would have renewed as lost, closing every connection.
// Here a renewal waits for no other call of the budget's.
//
// Like the worker, it reads the wall clock at least every wallCheck, and
// renews as soon as either clock says renewAt has come (see
// beforeOnBothClocks): after a suspend the monotonic timer would fire late.
// It renews only while the lease can be counted on: once validUntil has
// come the worker drops the lease, as it did before.
func (b *Budget) keepAlive() {
	defer b.wg.Done()
	timer := time.NewTimer(wallCheck)
	defer timer.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-b.renewKick:
		case <-timer.C:
		}
		wait := retryAfter
		if b.renewIfDue() {
			wait = b.renewWait()
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// renewIfDue renews the lease if a renewal is due by either clock. A lease
// whose validUntil has come is not renewed but left to the worker, which
// counts it as lost (after a suspend etcd may have expired it and handed its
// permits on) and takes a new one. It says false when a renewal failed.
func (b *Budget) renewIfDue() bool {
	now := time.Now()
	b.mu.Lock()
	lease := b.lease
	due := lease != 0 && b.leaseValid(now) && !beforeOnBothClocks(now, b.renewAt)
	b.mu.Unlock()
	return !due || b.renew(lease)
}

// renewWait is how long keepAlive sleeps: until the next renewal, at most
// wallCheck; wallCheck while there is no lease to renew (a new one kicks
// it) or the one there lapsed (the worker drops it).
func (b *Budget) renewWait() time.Duration {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.leaseValid(now) {
		return wallCheck
	}
	return max(0, min(wallCheck, b.renewAt.Sub(now)))
}

// kickRenewer wakes keepAlive, to look at a new lease's renewAt.
func (b *Budget) kickRenewer() {
	select {
	case b.renewKick <- struct{}{}:
	default:
	}
}

// renew keeps the lease alive, once. It says false when etcd could not be
// reached (keepAlive tries again after retryAfter; the lapse timer sheds at
// validUntil if no renewal comes by then). A lease etcd no longer has is
// dropped, and the worker woken to take a new one.
func (b *Budget) renew(lease clientv3.LeaseID) bool {
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.TTL/3)
	defer cancel()
	sent := time.Now()
	r, err := b.cli.KeepAliveOnce(ctx, lease)
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		b.lost(lease, "etcd expired it")
		b.wake()
		return true
	}
	if err != nil {
		b.noteFailure("keepalive", err)
		return false
	}
	b.mu.Lock()
	if b.lease == lease {
		b.validUntil = sent.Add(b.validFor(r.TTL))
		b.renewAt = sent.Add(b.cfg.TTL / 3)
		b.armLapse()
	}
	b.st.Renewals++
	b.mu.Unlock()
	return true
}
