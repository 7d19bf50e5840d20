package bench

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/idpool/idpool/tokens"
)

// The keyed design floor (issue #15, many identities): the design floor
// (floor_design_test.go) plus what idpool's design requires of every pair
// outside the pool actor once the caller names an identity rather than a
// slice index, each at its least:
//
//   - the pool key: the identity's discriminator, from tokens.Identity (the
//     key domains of DESIGN.md; for the managed identities here a field
//     read behind its validity check);
//   - the direct route: the key looked up in a read-only Go map (idpool's
//     route table must also take routes being added and removed while
//     callers read it; this one never changes);
//   - the retirement count: one atomic add per acquire sent on a direct
//     route, which the manager compares with the count a retiring pool
//     reports (DESIGN.md, Manager), so that no acquire lands in a pool
//     that is stopping;
//   - the lease guard: one compare-and-swap ending the lease at Release,
//     so that a second Release or a use after it reaches nothing.
//
// The actor is the design floor's: an idle stack with a deadline per
// connection, a FIFO of waiters, the clock read per message, the session
// reset on release. No state machine beyond that, no effects, no metrics,
// no health checks, no token expiry threshold, no retirement timer.
//
//	go test ./bench -run '^$' -bench 'FloorIdentities/identities=100/zipf' -count 8 | benchstat -col /peer -

// floorKeyedPeer is the keyed design floor as a peer.
var floorKeyedPeer = PoolFactory{Name: "floor_keyed", New: func(env *Env, size, identities int) (Pool, error) {
	p := &floorKeyedPool{
		floorDesignPool: newFloorDesignPool(identities, size, func(i int) driver.Connector { return env.DB.Connector(env.Label(i)) }),
		ids:             make([]tokens.Identity, identities),
		routes:          make(map[string]*floorRoute, identities),
	}
	for i := range identities {
		id := env.Identity(i)
		disc, err := id.Discriminator(context.Background())
		if err != nil {
			return nil, fmt.Errorf("floor_keyed: identity %d: %w", i, err)
		}
		p.ids[i] = id
		p.routes[disc] = &floorRoute{pid: p.pids[i]}
	}
	return p, nil
}}

// floorRoute is a direct route: the pool's PID and the acquires sent on it.
type floorRoute struct {
	pid  *actor.PID
	sent atomic.Int64
}

// floorKeyedPool finds each identity's actor by its key.
type floorKeyedPool struct {
	*floorDesignPool
	ids    []tokens.Identity
	routes map[string]*floorRoute
}

func (p *floorKeyedPool) Acquire(ctx context.Context, identity int) (Conn, error) {
	disc, err := p.ids[identity].Discriminator(ctx)
	if err != nil {
		return nil, err
	}
	r := p.routes[disc]
	if r == nil {
		return nil, fmt.Errorf("floor_keyed: no route for identity %d", identity)
	}
	r.sent.Add(1)
	l := &floorLease{pid: r.pid}
	l.acquire = floorAcquire{lease: l, reply: floorReplies.Get().(chan driver.Conn)}
	p.sys.Root.Send(l.pid, &l.acquire)
	if l.handoff.CompareAndSwap(handoffOpenFloor, handoffWaitingFloor) {
		l.conn = <-l.acquire.reply
	}
	floorReplies.Put(l.acquire.reply)
	if l.conn == nil {
		return nil, fmt.Errorf("floor_keyed: identity %d: could not open a connection", identity)
	}
	return l, nil
}

func (p *floorKeyedPool) Release(c Conn) {
	if !c.(*floorLease).ended.CompareAndSwap(false, true) {
		return
	}
	p.floorDesignPool.Release(c)
}

// TestFloorKeyedFindsEachIdentitysActor drives the keyed floor over many
// identities from more goroutines than one identity has connections: every
// connection granted is one of the identity asked for (the key lookup
// finds the right actor), and a second Release of a lease reaches nothing.
func TestFloorKeyedFindsEachIdentitysActor(t *testing.T) {
	const n, size = 50, 2
	env := NewEnv(n)
	p, err := floorKeyedPeer.New(env, size, n)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Close() }()
	driveIdentities(t, p, env, identitySequences(n, 8, "zipf", 400), func(c Conn) driver.Conn {
		return c.(*floorLease).conn.(*floorDesignConn).Conn
	})
	c, err := p.Acquire(context.Background(), 3)
	if err != nil {
		t.Fatal(err)
	}
	p.Release(c)
	p.Release(c) // a second Release must not hand the connection back twice
	kp := p.(*floorKeyedPool)
	for range size + 1 {
		// Were the connection in the idle stack twice, two of these would
		// hold it at once and memdb would report it in use.
		held := make([]Conn, 0, size)
		for range size {
			c, err := kp.Acquire(context.Background(), 3)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, c)
		}
		if held[0].(*floorLease).conn == held[1].(*floorLease).conn {
			t.Fatal("a connection released twice was granted to two leases at once")
		}
		for _, c := range held {
			kp.Release(c)
		}
	}
}
