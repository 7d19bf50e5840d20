package bench

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/messages"
	"github.com/idpool/idpool/tokens"
)

// The pool-actor floor (issue #15): the design floor (floor_design_test.go)
// with its decisions made by idpool's own pool actor, the state machine
// the design requires (actors.NewProps: Pool.Step, its effects and the
// driver loop, with the Manager's defaults), and nothing of the manager
// around it: no Lease guard, no key resolution, no route table, no
// acquire counter. The actor of identity i is found by indexing a slice, as
// the floors do; a grant made during the send reaches the caller through
// messages.DirectGrant, as idpool's does; release resets the session on the
// caller's goroutine, as the design floor does.
//
// Between the design floor and this floor is the state machine and its
// driver loop; between this floor and idpool is the manager's per-pair
// work. If this floor is above a target, reaching it needs idpool's state
// machine itself to cost less, not only the code around it.
//
//	go test ./bench -run '^$' -bench 'FloorIdentities/identities=100/zipf' -count 1 -benchtime 1s

// floorActorPeer is the pool-actor floor as a peer.
var floorActorPeer = PoolFactory{Name: "floor_actor", New: newFloorActorPool}

// floorActorPool is one idpool pool actor per identity in one actor system,
// spawned and configured as manager.New's defaults would.
type floorActorPool struct {
	floorPool // the actor system and the actors by identity
	ids       []tokens.Identity
	// drained receives a value for each pool that has closed everything.
	drained chan struct{}
}

// drainCounter stands in for the manager, which the pools tell when they
// have drained (and ask for permits and retirement, which never happens
// here: no MaxTotal, and RetireAfter is longer than any run).
type drainCounter struct{ drained chan<- struct{} }

func (d drainCounter) Receive(c actor.Context) {
	if _, ok := c.Message().(*messages.PoolDrained); ok {
		d.drained <- struct{}{}
	}
}

func newFloorActorPool(env *Env, size, identities int) (Pool, error) {
	sys := newQuietActorSystem()
	drained := make(chan struct{}, identities)
	counter := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return drainCounter{drained} }))
	tmpl := actors.PoolConfig{
		MaxSize:          size,
		IdleTimeout:      manager.DefaultIdleTimeout,
		MaxLifetime:      manager.DefaultMaxLifetime,
		LifetimeJitter:   manager.DefaultMaxLifetime / 10,
		HealthCheckAfter: manager.DefaultHealthCheckAfter,
		TokenThreshold:   manager.DefaultTokenThreshold,
		RetireAfter:      manager.DefaultPoolIdleTimeout,
		DialBackoff:      manager.DefaultDialBackoff,
		DialBackoffMax:   manager.DefaultDialBackoffMax,
	}
	props := actors.NewProps(&actors.ActorConfig{
		Dialer:          env.DB,
		Clock:           actors.SystemClock{},
		Dispatcher:      actor.NewSynchronizedDispatcher(300),
		DialTimeout:     manager.DefaultDialTimeout,
		MintTimeout:     manager.DefaultMintTimeout,
		ValidateTimeout: manager.DefaultValidateTimeout,
		Manager:         counter,
		Pool:            &tmpl,
	})
	p := &floorActorPool{floorPool: floorPool{sys: sys, pids: make([]*actor.PID, identities)}, ids: make([]tokens.Identity, identities), drained: drained}
	for i := range p.pids {
		id := env.Identity(i)
		if identities == 1 {
			id = tokens.SQLLogin()
		}
		disc, err := id.Discriminator(context.Background())
		if err != nil {
			return nil, err
		}
		cfg := tmpl
		cfg.Key = tokens.NewKey(memdbServer, disc)
		cfg.UsesToken = id.UsesToken()
		p.ids[i] = id
		p.pids[i] = sys.Root.Spawn(props)
		sys.Root.Send(p.pids[i], &actors.Init{Pool: cfg, Identity: id})
	}
	return p, nil
}

// floorActorLease is the one allocation per pair, as idpool's Lease: both
// messages and the hand-off, in the same 256-byte size class.
type floorActorLease struct {
	acquire messages.Acquire
	release messages.Release
	handoff atomic.Uint32
	conn    driver.Conn
	pool    *actor.PID
	_       [88]byte
}

// Grant implements messages.DirectGrant, as idpool's Lease does.
func (l *floorActorLease) Grant(conn driver.Conn, connID uint64, pool *actor.PID) bool {
	if l.handoff.Load() != handoffOpenFloor {
		return false
	}
	l.conn, l.pool, l.release.ConnID = conn, pool, connID
	return l.handoff.CompareAndSwap(handoffOpenFloor, handoffGrantedFloor)
}

// CloseAfterOperation implements messages.DirectGrant: the floor never
// closes a pool by force.
func (l *floorActorLease) CloseAfterOperation() bool { return false }

var floorActorReplies = sync.Pool{New: func() any { return make(chan messages.Reply, 1) }}

func (p *floorActorPool) Acquire(ctx context.Context, identity int) (Conn, error) {
	l := &floorActorLease{}
	reply := floorActorReplies.Get().(chan messages.Reply)
	// The lease's address names the acquire: unique while it waits, which
	// is all a pool needs of an ID (to match a Cancel, never sent here).
	l.acquire.ID = uint64(uintptr(unsafe.Pointer(l)))
	l.acquire.Identity = p.ids[identity]
	l.acquire.Reply = reply
	l.acquire.Timeout = manager.DefaultAcquireTimeout
	l.acquire.Ctx = ctx
	l.acquire.Direct = l
	p.sys.Root.Send(p.pids[identity], &l.acquire)
	if l.handoff.CompareAndSwap(handoffOpenFloor, handoffWaitingFloor) {
		r := <-reply
		if r.Err != nil {
			floorActorReplies.Put(reply)
			return nil, fmt.Errorf("floor_actor: identity %d: %w", identity, r.Err)
		}
		l.conn, l.pool, l.release.ConnID = r.Conn, r.Pool, r.ConnID
	}
	floorActorReplies.Put(reply)
	l.acquire.Ctx = nil
	return l, nil
}

// Release resets the session as the design floor does, then hands the
// connection back.
func (p *floorActorPool) Release(c Conn) {
	l := c.(*floorActorLease)
	if r, ok := l.conn.(driver.SessionResetter); ok {
		_ = r.ResetSession(context.Background())
	}
	if v, ok := l.conn.(driver.Validator); ok {
		_ = v.IsValid()
	}
	p.sys.Root.Send(l.pool, &l.release)
}

// Close closes every pool as the manager does and stops them once they have
// drained. Stopping a pool at once would leave its idle connections open, and
// turn a dial still in flight into a dead letter (protoactor's dead-letter
// throttle goroutine then outlives the test by a second, which goleak saw).
func (p *floorActorPool) Close() error {
	for _, pid := range p.pids {
		p.sys.Root.Send(pid, &messages.ClosePool{})
	}
	timeout := time.After(10 * time.Second)
	var err error
	for left := len(p.pids); left > 0 && err == nil; left-- {
		select {
		case <-p.drained:
		case <-timeout:
			err = fmt.Errorf("floor_actor: %d of %d pools not drained 10s after ClosePool", left, len(p.pids))
		}
	}
	return errors.Join(err, p.floorPool.Close())
}

func TestFloorActorLeaseIsInTheLeasesSizeClass(t *testing.T) {
	if s := unsafe.Sizeof(floorActorLease{}); s <= 240 || s > 256 {
		t.Fatalf("floorActorLease is %d bytes, want 241-256 (idpool's Lease's size class)", s)
	}
}

// TestFloorActorKeepsIdentitiesApartAndWithinSize drives the pool-actor
// floor from more goroutines than an identity has connections: every
// connection granted is of the identity asked for (memdb's label), none is
// held twice at once, no identity opens more than its size, and every
// release resets its session.
func TestFloorActorKeepsIdentitiesApartAndWithinSize(t *testing.T) {
	const n, size, pairsPerWorker = 20, 2, 300
	env := NewEnv(n)
	p, err := floorActorPeer.New(env, size, n)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			_ = p.Close()
		}
	}()
	seqs := identitySequences(n, 8, "zipf", pairsPerWorker)
	driveIdentities(t, p, env, seqs, func(c Conn) driver.Conn { return c.(*floorActorLease).conn })
	closed = true
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	perLabel := map[string]int{}
	resets := 0
	for _, c := range env.DB.Conns() {
		perLabel[c.Identity]++
		resets += c.Resets
	}
	for label, opened := range perLabel {
		if opened > size {
			t.Errorf("%s opened %d connections, more than its size %d", label, opened, size)
		}
	}
	if want := len(seqs) * pairsPerWorker; resets != want {
		t.Errorf("%d sessions reset, want one per release (%d)", resets, want)
	}
	for _, c := range env.DB.Conns() {
		if c.CloseCount != 1 {
			t.Errorf("connection %d closed %d times by Close, want once", c.ID, c.CloseCount)
		}
	}
}
