package actors

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/messages"
	"github.com/idpool/idpool/tokens"
)

// A Dialer that is a ConnCloser has every connection it opened closed
// through CloseConn, never by the connection's own Close (drivers/sqlserver
// closes go-mssqldb's socket first there: see ConnCloser), once, after
// BeforeClose has seen it and, when forced, after the cut; a Dialer that is
// none still has each closed by its Close. Each case ends with the pool
// closed and drained, so that every close it made has finished and a second
// one would show.
func TestEveryCloseOfAConnCloserDialersConnectionGoesThroughCloseConn(t *testing.T) {
	cases := []struct {
		name   string
		reason CloseReason
		// run leads the pool to close connection 1 for reason, and closes
		// the pool.
		run func(r *closeRig)
	}{
		{"broken", ReasonBroken, func(r *closeRig) {
			r.release(r.acquire(), true)
			r.closePool()
		}},
		{"lifetime", ReasonLifetime, func(r *closeRig) {
			id := r.acquire()
			r.clock.advance(2 * time.Hour)
			r.release(id, false)
			r.closePool()
		}},
		{"forced", ReasonForced, func(r *closeRig) {
			r.acquire()
			r.send(&messages.ClosePool{})
			r.send(&messages.ForceClose{})
			r.awaitDrained()
		}},
		{"pool closed, idle", ReasonPoolClosed, func(r *closeRig) {
			r.release(r.acquire(), false)
			r.closePool()
		}},
		{"pool closed before its dial came back", ReasonPoolClosed, func(r *closeRig) {
			r.dialer.gate = make(chan struct{})
			reply := make(chan messages.Reply, 1)
			r.send(&messages.Acquire{ID: 1, Identity: tokens.SQLLogin(), Reply: reply})
			r.awaitEvent("dial:1")
			r.send(&messages.ClosePool{})
			close(r.dialer.gate) // the dial returns a connection to a closed pool
			r.awaitDrained()
		}},
	}
	for _, closer := range []bool{true, false} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/ConnCloser=%v", tc.name, closer), func(t *testing.T) {
				r := newCloseRig(t, closer)
				tc.run(r)
				want := []string{"dial:1"}
				if tc.reason == ReasonForced {
					want = append(want, "abort:1")
				}
				want = append(want, "before:1")
				if closer {
					want = append(want, "closeconn:1")
				} else {
					want = append(want, "close:1")
				}
				require.Equal(t, want, r.events(), "what the pool did to connection 1, in order")
				require.Equal(t, uint64(1), r.drained.Closes[tc.reason.String()], "closed for %s", tc.reason)
			})
		}
	}
}

// closeRig is one pool actor over a fake Dialer that records, in order,
// every dial, cut, BeforeClose and close.
type closeRig struct {
	t       *testing.T
	system  *actor.ActorSystem
	pool    *actor.PID
	clock   *stepClock
	dialer  *recordingDialer
	log     chan string
	drainCh chan messages.PoolStats
	drained messages.PoolStats
	nextID  uint64
	// seen holds the events awaitEvent took from log.
	seen []string
}

func newCloseRig(t *testing.T, closer bool) *closeRig {
	log := make(chan string, 64)
	r := &closeRig{t: t, system: actor.NewActorSystem(), clock: &stepClock{}, log: log,
		dialer: &recordingDialer{log: log}, drainCh: make(chan messages.PoolStats, 1)}
	r.clock.now.Store(time.Unix(1_700_000_000, 0).UnixNano())
	t.Cleanup(r.system.Shutdown)
	mgr := r.system.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if m, ok := c.Message().(*messages.PoolDrained); ok {
			r.drainCh <- m.Stats
		}
	}))
	var d Dialer = r.dialer
	if closer {
		d = closingDialer{r.dialer}
	}
	cfg := &ActorConfig{Dialer: d, Clock: r.clock, Manager: mgr,
		Dispatcher:  actor.NewDefaultDispatcher(300),
		BeforeClose: func(c driver.Conn) { log <- fmt.Sprintf("before:%d", c.(*recordedConn).id) },
		Abort: func(c driver.Conn) bool {
			log <- fmt.Sprintf("abort:%d", c.(*recordedConn).id)
			return true
		},
		DialTimeout: time.Minute, MintTimeout: time.Minute, ValidateTimeout: time.Minute}
	r.pool = r.system.Root.Spawn(NewProps(cfg))
	r.send(&Init{Pool: PoolConfig{Key: tokens.NewKey("srv", ""), MaxSize: 2, MaxLifetime: time.Hour},
		Identity: tokens.SQLLogin()})
	return r
}

func (r *closeRig) send(m any) { r.system.Root.Send(r.pool, m) }

// acquire leases a connection and returns its id.
func (r *closeRig) acquire() uint64 {
	r.t.Helper()
	r.nextID++
	reply := make(chan messages.Reply, 1)
	r.send(&messages.Acquire{ID: r.nextID, Identity: tokens.SQLLogin(), Reply: reply})
	select {
	case rep := <-reply:
		require.NoError(r.t, rep.Err)
		return rep.ConnID
	case <-time.After(10 * time.Second):
		r.t.Fatal("no connection granted")
		return 0
	}
}

func (r *closeRig) release(id uint64, broken bool) {
	r.send(&messages.Release{ConnID: id, Broken: broken})
}

// closePool closes the pool and waits until it has drained.
func (r *closeRig) closePool() {
	r.send(&messages.ClosePool{})
	r.awaitDrained()
}

func (r *closeRig) awaitDrained() {
	r.t.Helper()
	select {
	case r.drained = <-r.drainCh:
	case <-time.After(10 * time.Second):
		r.t.Fatal("the pool did not drain")
	}
}

// awaitEvent waits for ev, which must be the next event.
func (r *closeRig) awaitEvent(ev string) {
	r.t.Helper()
	select {
	case got := <-r.log:
		require.Equal(r.t, ev, got)
		r.seen = append(r.seen, got)
	case <-time.After(10 * time.Second):
		r.t.Fatalf("no %s", ev)
	}
}

// events returns every event recorded so far, in order.
func (r *closeRig) events() []string {
	evs := r.seen
	for {
		select {
		case ev := <-r.log:
			evs = append(evs, ev)
		default:
			return evs
		}
	}
}

// recordingDialer dials recordedConns, numbered from 1; with gate set,
// each dial waits for it to close, whatever its ctx (a dial that comes back
// late).
type recordingDialer struct {
	log  chan string
	n    atomic.Int64
	gate chan struct{}
}

func (d *recordingDialer) Dial(ctx context.Context, _ DialRequest) (driver.Conn, error) {
	c := &recordedConn{id: d.n.Add(1), log: d.log}
	d.log <- fmt.Sprintf("dial:%d", c.id)
	if d.gate != nil {
		<-d.gate
	}
	return c, nil
}

// closingDialer is a recordingDialer that is a ConnCloser.
type closingDialer struct{ *recordingDialer }

func (d closingDialer) CloseConn(c driver.Conn) error {
	d.log <- fmt.Sprintf("closeconn:%d", c.(*recordedConn).id)
	return nil
}

var _ ConnCloser = closingDialer{}

// recordedConn records its Close.
type recordedConn struct {
	id  int64
	log chan string
}

func (c *recordedConn) Close() error {
	c.log <- fmt.Sprintf("close:%d", c.id)
	return nil
}

func (*recordedConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("not supported") }
func (*recordedConn) Begin() (driver.Tx, error)           { return nil, errors.New("not supported") }

// stepClock is a clock a test moves by hand; its timers are real ones.
// Armed with panicNext, its next Now panics (a clock that is user code);
// armed with panicNextTimer, its next AfterFunc does.
type stepClock struct {
	now            atomic.Int64
	panicNext      atomic.Bool
	panicNextTimer atomic.Bool
}

func (c *stepClock) Now() time.Time {
	if c.panicNext.CompareAndSwap(true, false) {
		panic("the clock panicked")
	}
	return time.Unix(0, c.now.Load())
}
func (c *stepClock) advance(d time.Duration) { c.now.Add(int64(d)) }
func (c *stepClock) AfterFunc(d time.Duration, f func()) Timer {
	if c.panicNextTimer.CompareAndSwap(true, false) {
		panic("the clock's AfterFunc panicked")
	}
	return time.AfterFunc(d, f)
}
