package fleet

import (
	"context"
	"time"

	"github.com/idpool/idpool/manager"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// retryAfter spaces etcd calls after a failure.
const retryAfter = 100 * time.Millisecond

// worker is the state only the run goroutine touches.
type worker struct {
	retryAt    time.Time
	waitingKey bool // this process's waiting key is in etcd
	// waitRev is the revision of the last put of the waiting key.
	waitRev int64
	// badHolder is the holder key whose unreadable count was last logged
	// (once, not at every retry); empty once a read finds none.
	badHolder string
	// full: the last fetch found the fleet at its cap, when the holders
	// were at generation fullGen (see Budget.holdersGen); the next fetch
	// waits for a change, or for fullAt+TTL/3 in case the watch missed one.
	full    bool
	fullGen uint64
	fullAt  time.Time
	// ownRev is the mod revision of this process's last write of its
	// holder key under the current lease, 0 when the key is missing (see
	// giveBack).
	ownRev int64
	// capKey: this process's cap key is in etcd under the current lease;
	// capRev is the revision of its last put (see Budget.capChangedRev).
	capKey bool
	capRev int64
}

// wallCheck bounds how long the worker (and the renewer, see keepAlive)
// sleeps without reading the wall clock. Its timer runs on the monotonic
// clock, which stops while the machine is suspended, so a sleep until the
// lease's validUntil would end up to that long after a resume, with the
// process keeping connections whose permits etcd may have handed to others
// meanwhile. Every wallCheck it looks whether the wall clock says the lease
// has lapsed (see dueByWallClock); a look costs a clock read and a mutex, no
// etcd call.
const wallCheck = time.Second

// run is the budget's goroutine that takes leases, fetches and returns
// permits, and signals the manager (the watch follows the prefix, and
// keepAlive renews the lease).
func (b *Budget) run() {
	defer b.wg.Done()
	var w worker
	timer := time.NewTimer(0)
	defer timer.Stop()
	var next time.Time // when step asked to run again; zero: at once
	for {
		if h := beforeWait.Load(); h != nil {
			(*h)(b, &w)
		}
		select {
		case <-b.ctx.Done():
			return
		case <-b.kick:
			next = time.Time{}
		case <-timer.C:
		}
		if now := time.Now(); !now.Before(next) || b.dueByWallClock(now) {
			next = b.step(&w)
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(min(time.Until(next), wallCheck))
	}
}

// dueByWallClock says whether the lease can no longer be counted on by the
// wall clock although perhaps not yet by the monotonic one (after a
// suspend): step then runs at once rather than when its monotonic timer
// fires. step checks both the same way (see beforeOnBothClocks), so it deals
// with what woke it (or waits for retryAt to try again) rather than leaving
// it for the next look.
func (b *Budget) dueByWallClock(now time.Time) bool {
	b.mu.Lock()
	lease, validUntil := b.lease, b.validUntil
	b.mu.Unlock()
	return lease != 0 && !beforeOnBothClocks(now, validUntil)
}

// step does what is due and says when to run again.
func (b *Budget) step(w *worker) time.Time {
	now := time.Now()
	ttl := b.cfg.TTL
	next := now.Add(ttl / 3)
	if now.Before(w.retryAt) {
		return w.retryAt
	}
	b.mu.Lock()
	lease, validUntil := b.lease, b.validUntil
	b.mu.Unlock()

	if lease != 0 && !beforeOnBothClocks(now, validUntil) {
		// Renewals failed for the lease's TTL (less the margin), or the
		// machine was suspended for longer than what was left of it, or
		// the wall clock was stepped forward past it.
		b.lost(lease, "renewals failed for the lease's TTL, or the machine was suspended, or its wall clock stepped forward")
		lease = 0
	}
	if lease == 0 && !b.grant(w) {
		b.signalShed()
		return w.retryAt
	}

	b.mu.Lock()
	lease = b.lease // a new one, if just granted
	check := b.checkOwn && lease != 0
	b.checkOwn = false
	if b.waitGoneRev > w.waitRev {
		w.waitingKey = false
	}
	// Another program deleted or changed the cap key since its last put:
	// until it is back, the others do not keep to this process's cap.
	recap := w.capKey && lease != 0 && b.capChangedRev > w.capRev
	b.mu.Unlock()
	if check && !b.checkOwnKey(w, lease) {
		b.signalShed()
		return w.retryAt
	}
	if recap && !b.putCapKeyAgain(w, lease) {
		if b.leaseReplaced(lease) {
			// The put found the lease gone (etcd expired it, and with it
			// the key): take a new one at once, before shedding, as below.
			return now
		}
		b.signalShed()
		return w.retryAt
	}

	b.mu.Lock()
	lease = b.lease
	// keep is what the process may use now: what is in use, plus what the
	// manager waits for up to the fair share.
	keep := max(b.inUse, min(b.inUse+b.want, b.fairShare()))
	need := keep - b.held
	spare := b.held - keep
	want := b.want
	idle := time.Since(b.lastTake) >= b.cfg.IdleReturn
	others := b.othersWaiting()
	gen := b.holdersGen
	validUntil = b.validUntil
	b.mu.Unlock()
	if lease == 0 {
		return now
	}
	switch {
	case need > 0 && w.full && gen == w.fullGen && now.Before(w.fullAt.Add(ttl/3)):
		// Still full as far as the watch knows: no read, but say so again,
		// as a new waiter may have come that the manager can serve from
		// its own idle connections. And wait again if the waiting key
		// went (see noteOwnKey).
		b.signal(fullSignal)
		if !w.waitingKey {
			b.setWaiting(w, lease, true)
		}
		if at := w.fullAt.Add(ttl / 3); at.Before(next) {
			next = at
		}
	case need > 0:
		if b.fetch(w, lease, need+b.cfg.Batch) {
			b.signal(manager.BudgetSignal{})
		}
	case need <= 0 && want > 0 && spare <= 0:
		// The process is at the cap or its fair share: the manager can
		// only serve its waiters from its own idle connections.
		b.signal(fullSignal)
	case spare > 0 && (others || idle):
		b.giveBack(w, lease, spare)
	case spare > b.cfg.Batch:
		b.giveBack(w, lease, spare-b.cfg.Batch)
	case spare > 0:
		b.mu.Lock()
		at := b.lastTake.Add(b.cfg.IdleReturn)
		b.mu.Unlock()
		if at.Before(next) {
			next = at
		}
	}
	if need <= 0 && w.waitingKey {
		b.setWaiting(w, lease, false)
	}
	if b.leaseReplaced(lease) {
		// A fetch or give-back found the lease gone: take a new one and
		// take back the permits in use at once, as after a renewal that
		// finds it gone, and shed only what the cap leaves no room for.
		// Shedding now would close every connection in use.
		return now
	}
	b.signalShed()
	// These wake-ups count by the monotonic clock (as timers do); run
	// looks at the wall clock in between (see wallCheck).
	if validUntil.Before(next) {
		next = validUntil
	}
	if w.retryAt.After(next) {
		next = w.retryAt
	}
	return next
}

// lost forgets a lease: its permits are gone, or soon may be.
func (b *Budget) lost(lease clientv3.LeaseID, why string) {
	b.mu.Lock()
	if b.lease == lease {
		b.lease, b.held = 0, 0
		b.st.LeaseLosses++
	}
	inUse := b.inUse
	b.mu.Unlock()
	b.cfg.Logger.Warn("fleet: lease lost; opening nothing until a new one holds permits", "reason", why, "in_use", inUse)
}

// signalShed asks the manager to close the connections beyond what the
// process may keep, or, while other processes wait for permits, beyond its
// fair share.
func (b *Budget) signalShed() {
	now := time.Now()
	b.mu.Lock()
	over := b.inUse - b.allowed(now)
	b.mu.Unlock()
	if over > 0 {
		b.signal(manager.BudgetSignal{Shed: over})
	}
}

// fairShare is, while other processes wait, the fleet's cap (capNow)
// divided among every process holding or waiting (rounded up); otherwise the
// whole cap. A process
// above it closes connections as they come free, and the permits go back to
// the fleet, so that no process keeps the cap to itself under steady load.
// Called with mu held.
func (b *Budget) fairShare() int {
	if !b.othersWaiting() {
		return b.capNow
	}
	n := len(b.holders)
	for name := range b.waiters {
		if !b.holders[name] {
			n++
		}
	}
	return max(1, (b.capNow+n-1)/n)
}

// othersWaiting says whether another process found the fleet full and
// waits. Called with mu held.
func (b *Budget) othersWaiting() bool {
	n := len(b.waiters)
	if b.waiters[leaseName(b.lease)] {
		n--
	}
	return n > 0
}

func (b *Budget) fail(w *worker, op string, err error) {
	b.noteFailure(op, err)
	w.retryAt = time.Now().Add(retryAfter)
}

// noteFailure counts and logs a failed etcd call.
func (b *Budget) noteFailure(op string, err error) {
	b.mu.Lock()
	b.st.EtcdErrors++
	b.mu.Unlock()
	b.cfg.Logger.Debug("fleet: etcd call failed", "op", op, "error", err)
}

// grant starts a new lease. The lease counts from before the request was
// sent, so the process stops counting on it no later than etcd expires it.
func (b *Budget) grant(w *worker) bool {
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.TTL/3)
	defer cancel()
	sent := time.Now()
	r, err := b.cli.Grant(ctx, int64(b.cfg.TTL/time.Second))
	if err != nil {
		b.fail(w, "grant", err)
		return false
	}
	b.mu.Lock()
	b.lease, b.held = r.ID, 0
	b.validUntil = sent.Add(b.validFor(r.TTL))
	b.renewAt = sent.Add(b.cfg.TTL / 3)
	b.armLapse()
	b.mu.Unlock()
	b.kickRenewer()
	w.waitingKey = false
	w.ownRev = 0
	w.capKey = false
	return true
}

// leaseReplaced reports whether lease is no longer the process's: a call
// that found it gone at etcd dropped it (see lost).
func (b *Budget) leaseReplaced(lease clientv3.LeaseID) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lease != lease
}

// armLapse makes sure the manager is told to shed at validUntil if no
// renewal moves it by then, whatever the worker is doing. The margin
// validFor leaves after validUntil is the time to close connections before
// etcd can expire the lease and hand its permits to others; but behind a
// network partition each etcd call hangs until its deadline (TTL/3), and a
// worker stuck in a renewal and then in a grant for a new lease used to
// signal the shed only after the margin had passed. The timer runs on its
// own: when it fires, signalShed finds the lease lapsed (or, renewed or
// replaced meanwhile, finds nothing to shed). It counts by the monotonic
// clock, as timers do; after a suspend the worker's look at the wall clock
// (wallCheck) finds the lapse. Called with mu held.
func (b *Budget) armLapse() {
	if b.closed {
		return
	}
	d := time.Until(b.validUntil)
	if b.lapse == nil {
		b.lapse = time.AfterFunc(d, b.signalShed)
		return
	}
	b.lapse.Reset(d)
}

// validFor is how long after sending a renewal the process counts on its
// lease: the TTL granted, less a margin (a fifth, at least 500ms) for the
// connections it must close when renewals stop.
func (b *Budget) validFor(ttlSeconds int64) time.Duration {
	ttl := time.Duration(ttlSeconds) * time.Second
	margin := max(ttl/5, 500*time.Millisecond)
	return ttl - margin
}

// beforeOnBothClocks reports whether now is before t by the monotonic clock
// and by the wall clock alike. The process counts on its lease only while
// both say its validUntil has not come (see Budget.leaseValid), and renews
// it as soon as either says its renewAt has (see keepAlive):
//
//   - now.Before(t) alone compares the monotonic readings that time.Now
//     gives, and Linux's monotonic clock (CLOCK_MONOTONIC) stops while the
//     machine or VM is suspended (sleep, a paused VM, some live migrations).
//     etcd's clock runs on: after a suspend longer than what was left of the
//     lease, etcd has expired it and may have handed its permits to other
//     processes, while the monotonic comparison still says it holds for
//     whatever was left before the suspend.
//   - The wall clock (CLOCK_REALTIME) runs on through a suspend, so the wall
//     readings (Round(0) drops the monotonic one) catch that. It can be
//     stepped as well: forward (an NTP correction), it only makes the process
//     stop counting on its lease early, the safe side (it opens nothing on
//     it, takes a new lease and sheds what that cannot cover); backward, it
//     leaves the monotonic comparison in charge.
func beforeOnBothClocks(now, t time.Time) bool {
	return now.Before(t) && now.Round(0).Before(t.Round(0))
}

func (b *Budget) holderKey(lease clientv3.LeaseID) string {
	return b.cfg.Prefix + "h/" + leaseName(lease)
}

func (b *Budget) waitingKeyOf(lease clientv3.LeaseID) string {
	return b.cfg.Prefix + "w/" + leaseName(lease)
}

func leaseName(l clientv3.LeaseID) string { return fmtHex(int64(l)) }
