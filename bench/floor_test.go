package bench

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/idpool/idpool/internal/mailbox"
)

// The floor experiment (issue #15): what an acquire+release costs at the
// least while every decision goes through an actor, as idpool's design
// requires. A floor pair is idpool's pair with everything but the
// constraints taken out: two messages (Acquire, Release) through
// protoactor-go's RootContext.Send to one actor with idpool's mailbox
// (internal/mailbox) and the inline dispatcher, one 256-byte allocation
// per pair (idpool's Lease, which carries both messages), the direct
// hand-off of a grant made during the send, and a channel reply for a
// caller that had to wait. The actor keeps only what a pool cannot do
// without: a stack of idle connections and a FIFO of waiters. No state
// machine, no clock, no effects, no isolation guard, no routes, no keys.
//
// If this floor is far from database/sql's pair, no rework of idpool's
// state machine can reach parity while the actor decides every checkout.
// The same floor with one actor per identity bounds many_identities
// (floor_identities_test.go).
//
//	go test ./bench -run '^$' -bench 'Floor' -count 6 | benchstat -col /peer -

// BenchmarkFloor runs the floor next to database/sql, puddle and idpool
// over memdb, max_size 8, at 1, 2, 8 and 32 goroutines. Besides ns/op it
// reports cpu-ns/op, the process's CPU time per pair, which a loaded
// machine disturbs less than wall time.
func BenchmarkFloor(b *testing.B) {
	peers := []PoolFactory{floorPeer, floorDesignPeer, floorActorPeer, DatabaseSQLPeer, PuddlePeer, IdpoolPeer}
	for _, g := range []int{1, 2, 8, 32} {
		for _, f := range peers {
			b.Run(fmt.Sprintf("g=%d/peer=%s", g, f.Name), func(b *testing.B) {
				p := newPool(b, f, NewEnv(1), 8, 1)
				if err := warm(context.Background(), p, 0, 8); err != nil {
					b.Fatal(err)
				}
				cpu0 := processCPU()
				runParallelPairs(b, p, g, nil)
				if cpu := processCPU() - cpu0; cpu > 0 {
					b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
				}
			})
		}
	}
}

// TestFloorPairAllocatesOnlyItsLease pins the floor's one condition that is
// not wall time: one allocation per pair, in the 256-byte size class.
func TestFloorPairAllocatesOnlyItsLease(t *testing.T) {
	for _, f := range []PoolFactory{floorPeer, floorDesignPeer} {
		p, err := f.New(NewEnv(1), 8, 1)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		allocs := testing.AllocsPerRun(200, func() {
			c, err := p.Acquire(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			p.Release(c)
		})
		_ = p.Close()
		if allocs != 1 {
			t.Fatalf("%s pair: %v allocations, want 1 (the lease)", f.Name, allocs)
		}
	}
}

// TestFloorGrantsEveryAcquireOnce drives both floors' hand-offs (direct and
// queued) from more goroutines than connections: every acquire gets a
// connection no one else holds, and the design floor resets the session on
// every release.
func TestFloorGrantsEveryAcquireOnce(t *testing.T) {
	const goroutines, pairs = 8, 500
	for _, f := range []PoolFactory{floorPeer, floorDesignPeer} {
		t.Run(f.Name, func(t *testing.T) {
			env := NewEnv(1)
			p, err := f.New(env, 2, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = p.Close() }()
			var held sync.Map // test only: which connections are out
			var wg sync.WaitGroup
			for range goroutines {
				wg.Go(func() {
					for range pairs {
						c, err := p.Acquire(context.Background(), 0)
						if err != nil {
							t.Error(err)
							return
						}
						conn := c.(*floorLease).conn
						if _, dup := held.LoadOrStore(conn, true); dup {
							t.Error("a connection granted twice")
						}
						held.Delete(conn)
						p.Release(c)
					}
				})
			}
			wg.Wait()
			resets := 0
			for _, c := range env.DB.Conns() {
				resets += c.Resets
			}
			if want := 0; f.Name == floorPeer.Name && resets != want {
				t.Fatalf("the floor reset %d sessions, want none", resets)
			}
			if want := goroutines * pairs; f.Name == floorDesignPeer.Name && resets != want {
				t.Fatalf("the design floor reset %d sessions, want one per release (%d)", resets, want)
			}
		})
	}
}

// floorPeer is the floor as a peer: one floor actor per identity in one
// actor system (as idpool's Manager has), found by indexing a slice with the
// identity's number, the cheapest lookup there is. Each actor opens its
// identity's connections on demand, up to size.
var floorPeer = PoolFactory{Name: "floor", New: func(env *Env, size, identities int) (Pool, error) {
	return newFloorPool(env, identities, func(connector driver.Connector) actor.Actor {
		return &floorActor{connector: connector, spare: size}
	}), nil
}}

// newFloorPool spawns one actor per identity, made by produce with the
// identity's memdb connector, in one actor system with idpool's mailbox and
// the inline dispatcher.
func newFloorPool(env *Env, identities int, produce func(driver.Connector) actor.Actor) *floorPool {
	return newFloorPoolOf(identities, func(i int) driver.Connector { return env.DB.Connector(env.Label(i)) }, produce)
}

// newFloorPoolOf is newFloorPool over any server: connectorOf gives
// identity i's connector.
func newFloorPoolOf(identities int, connectorOf func(int) driver.Connector, produce func(driver.Connector) actor.Actor) *floorPool {
	sys := newQuietActorSystem()
	p := &floorPool{sys: sys, pids: make([]*actor.PID, identities)}
	for i := range p.pids {
		connector := connectorOf(i)
		props := actor.PropsFromProducer(func() actor.Actor { return produce(connector) },
			actor.WithDispatcher(actor.NewSynchronizedDispatcher(300)), actor.WithMailbox(mailbox.Producer()))
		p.pids[i] = sys.Root.Spawn(props)
	}
	return p
}

// newQuietActorSystem is an actor system that logs nothing, for the floors.
func newQuietActorSystem() *actor.ActorSystem {
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
}

// floorLease is the one allocation per pair, as idpool's Lease: both
// messages, the hand-off word, the granted connection, padded to the
// 256-byte size class idpool's Lease is in.
type floorLease struct {
	acquire floorAcquire
	release floorRelease
	handoff atomic.Uint32
	ended   atomic.Bool // the keyed floor's lease guard (floor_keyed_test.go)
	conn    driver.Conn
	pid     *actor.PID // the identity's actor, found at Acquire
	_       [192]byte
}

type floorAcquire struct {
	lease *floorLease
	reply chan driver.Conn
}

type floorRelease struct{ conn driver.Conn }

type floorPool struct {
	sys  *actor.ActorSystem
	pids []*actor.PID // by identity
}

var floorReplies = sync.Pool{New: func() any { return make(chan driver.Conn, 1) }}

func (p *floorPool) Acquire(_ context.Context, identity int) (Conn, error) {
	l := &floorLease{pid: p.pids[identity]}
	l.acquire = floorAcquire{lease: l, reply: floorReplies.Get().(chan driver.Conn)}
	p.sys.Root.Send(l.pid, &l.acquire)
	if l.handoff.CompareAndSwap(handoffOpenFloor, handoffWaitingFloor) {
		l.conn = <-l.acquire.reply
	} // else granted while the actor handled the send
	floorReplies.Put(l.acquire.reply)
	if l.conn == nil {
		return nil, fmt.Errorf("floor: identity %d: could not open a connection", identity)
	}
	return l, nil
}

func (p *floorPool) Release(c Conn) {
	l := c.(*floorLease)
	l.release.conn = l.conn
	p.sys.Root.Send(l.pid, &l.release)
}

// Close stops the actors after the messages already in their mailboxes (a
// Stop would go first and make a Release still queued a dead letter, whose
// throttle goroutine outlives the test by a second).
func (p *floorPool) Close() error {
	var errs []error
	for _, pid := range p.pids {
		errs = append(errs, p.sys.Root.PoisonFuture(pid).Wait())
	}
	p.sys.Shutdown()
	return errors.Join(errs...)
}

const (
	handoffOpenFloor uint32 = iota
	handoffGrantedFloor
	handoffWaitingFloor
)

// floorActor is the least a pool actor does: hand out an idle connection
// or queue the acquire; take a connection back and give it to the oldest
// waiter or the idle stack.
type floorActor struct {
	// connector opens the identity's connections, spare more of them at
	// most. Opening runs in Receive: memdb's Connect does no I/O, and in
	// steady state no connection is opened.
	connector driver.Connector
	spare     int
	idle      []driver.Conn
	waiting   floorWaiters
}

// floorWaiters is a FIFO of queued acquires: waiting[head:]. The slice
// keeps its capacity, so queueing allocates nothing in steady state.
type floorWaiters struct {
	waiting []*floorAcquire
	head    int
}

func (q *floorWaiters) push(m *floorAcquire) {
	if len(q.waiting) == cap(q.waiting) && q.head > 0 {
		// Full with taken slots in front: slide down instead of growing.
		n := copy(q.waiting, q.waiting[q.head:])
		clear(q.waiting[n:])
		q.waiting, q.head = q.waiting[:n], 0
	}
	q.waiting = append(q.waiting, m)
}

// pop returns the oldest queued acquire, or nil.
func (q *floorWaiters) pop() *floorAcquire {
	if q.head == len(q.waiting) {
		return nil
	}
	w := q.waiting[q.head]
	q.waiting[q.head] = nil
	q.head++
	if q.head == len(q.waiting) {
		q.waiting, q.head = q.waiting[:0], 0
	}
	return w
}

func (a *floorActor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *floorAcquire:
		if n := len(a.idle); n > 0 {
			conn := a.idle[n-1]
			a.idle = a.idle[:n-1]
			floorGrant(m, conn)
			return
		}
		if conn, opened := openSpare(a.connector, &a.spare); opened {
			floorGrant(m, conn)
			return
		}
		a.waiting.push(m)
	case *floorRelease:
		if w := a.waiting.pop(); w != nil {
			floorGrant(w, m.conn)
			return
		}
		a.idle = append(a.idle, m.conn)
	}
}

// openSpare opens a connection if *spare allows one more, and reports
// whether it tried; a failed open gives a nil connection (Acquire reports
// the failure) and leaves *spare as it was.
func openSpare(connector driver.Connector, spare *int) (driver.Conn, bool) {
	if *spare <= 0 {
		return nil, false
	}
	conn, err := connector.Connect(context.Background())
	if err != nil {
		return nil, true
	}
	*spare--
	return conn, true
}

// floorGrant hands conn over directly when the caller has not yet begun to
// wait, otherwise on its channel.
func floorGrant(m *floorAcquire, conn driver.Conn) {
	l := m.lease
	if l.handoff.Load() == handoffOpenFloor {
		l.conn = conn
		if l.handoff.CompareAndSwap(handoffOpenFloor, handoffGrantedFloor) {
			return
		}
	}
	m.reply <- conn
}

// TestFloorLeaseIsInTheLeasesSizeClass: each floor's one allocation per
// pair is in the size class of idpool's Lease, as the floors claim.
func TestFloorLeaseIsInTheLeasesSizeClass(t *testing.T) {
	for name, size := range map[string]uintptr{
		"floorLease":    unsafe.Sizeof(floorLease{}),
		"completeLease": unsafe.Sizeof(completeLease{}),
	} {
		if size <= 240 || size > 256 {
			t.Errorf("%s is %d bytes, want 241-256 (idpool's Lease's size class)", name, size)
		}
	}
}
