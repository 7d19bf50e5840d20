package fleet

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/idpool/idpool/manager"
	clientv3 "go.etcd.io/etcd/client/v3"
)

var _ manager.SessionBudget = (*Budget)(nil)

// ErrNotFromNew is Close's error for a Budget not made by New: a failed
// New's nil result used anyway, or a zero Budget. Such a budget has no
// lease and no goroutines: TryAcquire says false, Want, Release and
// Subscribe do nothing, and Stats is zero.
var ErrNotFromNew = errors.New("fleet: the Budget was not made by fleet.New (a failed New's nil result, or a zero Budget); it holds no permit and has nothing to close")

// Budget is one process's share of a fleet-wide session budget in etcd. Its
// methods are safe for concurrent use; TryAcquire, Want and Release never
// block or do I/O (the manager calls them from its actor). Create it with New,
// give it to one manager.Config.Fleet (see Subscribe), and Close it after the
// Manager.
type Budget struct {
	cfg    Config
	cli    *clientv3.Client
	kick   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu sync.Mutex
	// lease is the process's etcd lease, 0 while it has none; validUntil is
	// when it stops counting on it (see renew), by whichever of the
	// monotonic and the wall clock says so first (see leaseValid).
	lease      clientv3.LeaseID
	validUntil time.Time
	// renewAt is when keepAlive renews the lease next (TTL/3 after the
	// send time of its grant or last renewal).
	renewAt time.Time
	// renewKick wakes keepAlive: a new lease, or a test's change.
	renewKick chan struct{}
	// held is how many permits etcd records for this process, as far as it
	// knows (never more than etcd has); inUse how many the manager took.
	held, inUse int
	// want is how many permits the manager waits for.
	want     int
	lastTake time.Time
	// waiters and holders are the lease names of the processes with a
	// waiting key (they found the fleet full) and with a holder key, as the
	// watch sees them.
	waiters, holders map[string]bool
	// holdersGen counts the changes of holder keys the watch has seen.
	holdersGen uint64
	// checkOwn asks the worker to read this process's holder key: the
	// watch saw it lowered or deleted, maybe by another program (see
	// checkOwnKey).
	checkOwn bool
	// waitGoneRev is the revision of the last deletion of this process's
	// waiting key the watch saw (see noteOwnKey), or of the last read of the
	// keys that found it missing (see readKeys).
	waitGoneRev int64
	// capChangedRev is the last revision at which the watch saw this
	// process's cap key deleted or not as the process writes it (see
	// ownCapChanged); the worker puts the key again if it is above that of
	// its last put.
	capChangedRev int64
	// caps are the caps other processes state (and this one's), by lease
	// name, as the watch sees them; capNow is the smallest of them and
	// Config.Cap (see noteCap).
	caps   map[string]int
	capNow int
	// notify holds the manager's signal function, and any of a second
	// Manager given the budget by mistake (see Subscribe).
	notify []func(manager.BudgetSignal)
	// lapse fires at validUntil to signal the shed (see armLapse); nil
	// until the first lease.
	lapse  *time.Timer
	closed bool
	st     Stats
}

// New checks cfg and starts the budget's goroutines; it does not wait for
// etcd (until the first lease is granted, TryAcquire says false, or grants up
// to FallbackShare).
func New(cfg Config) (*Budget, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	b := &Budget{cfg: cfg, cli: cfg.Client, kick: make(chan struct{}, 1), renewKick: make(chan struct{}, 1), ctx: ctx, cancel: cancel,
		waiters: make(map[string]bool), holders: make(map[string]bool), caps: make(map[string]int)}
	b.st.Cap, b.capNow = cfg.Cap, cfg.Cap
	b.wg.Add(3)
	go b.run()
	go b.watch()
	go b.keepAlive()
	return b, nil
}

// TryAcquire takes a permit at hand: one the process holds in etcd under a
// lease it can still count on, or, when it cannot, one of FallbackShare.
func (b *Budget) TryAcquire() bool {
	if !b.fromNew() {
		return false
	}
	now := time.Now()
	b.mu.Lock()
	ok := !b.closed && b.inUse < b.allowed(now)
	if ok {
		b.inUse++
		b.lastTake = now
	} else {
		b.st.Misses++
	}
	b.mu.Unlock()
	if !ok {
		b.wake()
	}
	return ok
}

// Want records how many permits the manager waits for; the budget fetches
// them.
func (b *Budget) Want(n int) {
	if !b.fromNew() {
		return
	}
	b.mu.Lock()
	b.want = n
	b.mu.Unlock()
	b.wake()
}

// Release gives back a permit taken by TryAcquire. It stays at hand as a
// spare (see Config.Batch and IdleReturn), or is dropped when the process
// holds more than it may keep.
func (b *Budget) Release() {
	if !b.fromNew() {
		return
	}
	b.mu.Lock()
	if b.inUse > 0 {
		b.inUse--
	}
	b.mu.Unlock()
	b.wake()
}

// Subscribe registers a manager's signal function (see
// manager.SessionBudget). A Budget serves one Manager: Managers of one
// server (one per database, say) each take their own Budget on the same
// Prefix (each is one more holder of the fleet's cap). Given to a second
// Manager anyway, it logs an error and signals every function registered,
// so that a Shed still reaches the connections of each (each closes up to n
// of its own: the safe side) and the first Manager's dials still hear that
// permits came; but the budget cannot tell whose Want it is told, so one
// Manager's dials may still wait out their deadline while the other's are
// served. A closed budget registers nothing.
func (b *Budget) Subscribe(fn func(manager.BudgetSignal)) {
	if fn == nil || !b.fromNew() {
		return
	}
	b.mu.Lock()
	second := false
	if !b.closed {
		b.notify = append(b.notify, fn)
		second = len(b.notify) == 2
	}
	b.mu.Unlock()
	if second {
		b.cfg.Logger.Error("fleet: a second Manager uses this Budget; give each Manager its own Budget on the same Prefix, or its dials may wait for permits at hand",
			"prefix", b.cfg.Prefix)
	}
	b.wake()
}

// allowed is how many permits may be in use now: those held under a lease
// the process can count on, no more than its fair share while others wait.
// Called with mu held.
func (b *Budget) allowed(now time.Time) int {
	if b.leaseValid(now) {
		return min(b.held, b.fairShare())
	}
	return b.cfg.FallbackShare
}

// leaseValid says whether the process can count on its lease at now: it has
// one, and neither the monotonic nor the wall clock says its validUntil has
// come (see beforeOnBothClocks). Called with mu held.
func (b *Budget) leaseValid(now time.Time) bool {
	return b.lease != 0 && beforeOnBothClocks(now, b.validUntil)
}

// fromNew says whether b was made by New: nil and a zero Budget were not.
func (b *Budget) fromNew() bool { return b != nil && b.cancel != nil }

func (b *Budget) wake() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

func (b *Budget) signal(s manager.BudgetSignal) {
	b.mu.Lock()
	fns := b.notify
	b.mu.Unlock()
	for _, fn := range fns {
		fn(s)
	}
}

// Close stops the budget. When no permit is in use (close the Manager
// first) it revokes the lease, so the fleet gets every permit back at once;
// otherwise they come back when the lease expires, and it asks the Manager
// to close the connections in use (idle ones at once, busy ones when
// released), as after a lost lease. The revocation is bounded
// by TTL/3 as every other etcd call of the budget, whatever ctx allows: it
// only hastens what the lease's expiry does anyway, and a process cut off
// from etcd must not hang at exit (the client waits for a connection for as
// long as the ctx lasts). For the same reason it waits at most TTL/3 for the
// budget's goroutines, which a Logger whose handler blocks may hold; it then
// goes on and returns an error saying so. A nil ctx is refused with an error matching
// manager.ErrNilContext, and the budget goes on. A ctx whose Deadline, Done
// or Value panics still has the lease revoked (under a ctx of the budget's
// own) before its panic goes on to the caller.
func (b *Budget) Close(ctx context.Context) error {
	if ctx == nil {
		// Refused before anything stops: let through, it panicked at the
		// revocation, the budget closed and its lease left to expire.
		return fmt.Errorf("fleet: Budget.Close: %w", manager.ErrNilContext)
	}
	if !b.fromNew() {
		return ErrNotFromNew
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	lease, inUse := b.lease, b.inUse
	b.lease, b.held = 0, 0
	if b.lapse != nil {
		b.lapse.Stop()
	}
	// A closed budget signals nothing more: a signal sent after this (by a
	// lapse timer that had already fired, say) finds no function to call.
	notify := b.notify
	b.notify = nil
	b.mu.Unlock()
	if inUse > 0 {
		// Closed before its Manager: it renews its lease no more, so etcd
		// hands the permits to the others within the TTL. The connections
		// they covered must close, as after a lost lease (idle ones at
		// once, busy ones when released); they would otherwise stay open
		// (an idle one until IdleTimeout) past the fleet's cap.
		for _, fn := range notify {
			fn(manager.BudgetSignal{Shed: inUse})
		}
	}
	b.cancel()
	stopErr := b.awaitStop()
	if lease == 0 || inUse > 0 {
		return stopErr
	}
	return errors.Join(stopErr, b.revoke(ctx, lease))
}

// awaitStop waits for the budget's goroutines, once cancelled, to end: at
// most TTL/3, as the revocation. They end at once unless user code holds
// them: a Logger whose handler blocks (a stalled pipe or log shipper) held
// Close for as long as it blocked, whatever its ctx, and with it the
// process's exit. Past the bound it says so in an error; the goroutines end
// when the handler returns (their etcd calls fail at once, and a signal
// reaches no one).
func (b *Budget) awaitStop() error {
	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(b.cfg.TTL / 3)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		return fmt.Errorf("fleet: Budget.Close: the budget's goroutines had not ended after %s: its Logger's handler blocks them; they end when it returns", b.cfg.TTL/3)
	}
}

var fullSignal = manager.BudgetSignal{Full: true}
