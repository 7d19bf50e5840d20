package bench

import (
	"context"
	"database/sql/driver"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/idpool/idpool/actors"
)

// The design floor (issue #15, hot path at 1-2 goroutines): the floor
// (floor_test.go) plus the two things idpool's design and its other issues
// require of every pair beyond the messages themselves, at their least:
//
//   - the time, read once per message: a pure state machine is told when
//     each input happened (actors.SystemClock, idpool's clock), and a
//     checkout must see whether the connection outlived its lifetime or
//     token, a release when it went idle;
//   - the session reset on release, on the caller's goroutine, as
//     database/sql does at reuse and idpool's Lease.Release does
//     (driver.SessionResetter and driver.Validator; on memdb a few
//     atomics).
//
// Still no state machine beyond an idle stack with one deadline per
// connection, no guard, no keys, no routes. If this floor is above 1.5x
// database/sql at 1 goroutine, the low-concurrency target is out of reach
// under the design; below, the distance to idpool is idpool's own code.
//
//	go test ./bench -run '^$' -bench 'Floor/g=1/' -count 6 -benchtime 300ms | benchstat -col /peer -

// floorDesignPeer is the design floor as a peer.
var floorDesignPeer = PoolFactory{Name: "floor_design", New: func(env *Env, size, identities int) (Pool, error) {
	return newFloorDesignPool(identities, size, func(i int) driver.Connector { return env.DB.Connector(env.Label(i)) }), nil
}}

// newFloorDesignPool is the design floor over any server: connectorOf
// gives identity i's connector, of which its actor opens size at most.
func newFloorDesignPool(identities, size int, connectorOf func(int) driver.Connector) *floorDesignPool {
	p := newFloorPoolOf(identities, connectorOf, func(connector driver.Connector) actor.Actor {
		return &floorDesignActor{connector: connector, spare: size, clock: actors.SystemClock{}}
	})
	return &floorDesignPool{floorPool: p}
}

// floorDesignPool resets the session on release, before the message.
type floorDesignPool struct{ *floorPool }

func (p *floorDesignPool) Release(c Conn) {
	conn := c.(*floorLease).conn.(*floorDesignConn).Conn
	if r, ok := conn.(driver.SessionResetter); ok {
		_ = r.ResetSession(context.Background())
	}
	if v, ok := conn.(driver.Validator); ok {
		_ = v.IsValid()
	}
	p.floorPool.Release(c)
}

// floorDesignConn is a connection and what the actor decides on; the
// actor grants it (as the driver.Conn it embeds), so a release brings the
// record back with no lookup.
type floorDesignConn struct {
	driver.Conn
	deadline  time.Time // end of its lifetime (or its token's)
	idleSince time.Time
}

// floorDesignActor is floorActor with the time read per message and a
// deadline checked per checkout.
type floorDesignActor struct {
	connector driver.Connector
	spare     int
	clock     actors.SystemClock
	idle      []*floorDesignConn
	waiting   floorWaiters
}

// floorLifetime is long enough that no connection reaches it in a run.
const floorLifetime = time.Hour

// floorIdleQuery asks a design floor actor how many connections it holds
// idle (tests only).
type floorIdleQuery struct{ reply chan int }

// idle returns how many connections identity 0's actor holds idle.
func (p *floorDesignPool) idle() int {
	q := &floorIdleQuery{reply: make(chan int, 1)}
	p.sys.Root.Send(p.pids[0], q)
	return <-q.reply
}

func (a *floorDesignActor) Receive(c actor.Context) {
	now := a.clock.Now()
	switch m := c.Message().(type) {
	case *floorIdleQuery:
		m.reply <- len(a.idle)
	case *floorAcquire:
		for n := len(a.idle); n > 0; n = len(a.idle) {
			ic := a.idle[n-1]
			a.idle = a.idle[:n-1]
			if now.Before(ic.deadline) {
				floorGrant(m, ic)
				return
			}
			_ = ic.Close()
			a.spare++
		}
		if conn, opened := openSpare(a.connector, &a.spare); opened {
			if conn == nil {
				floorGrant(m, nil) // Acquire reports the failure
				return
			}
			floorGrant(m, &floorDesignConn{Conn: conn, deadline: now.Add(floorLifetime)})
			return
		}
		a.waiting.push(m)
	case *floorRelease:
		if w := a.waiting.pop(); w != nil {
			floorGrant(w, m.conn)
			return
		}
		ic := m.conn.(*floorDesignConn)
		ic.idleSince = now
		a.idle = append(a.idle, ic)
	}
}
