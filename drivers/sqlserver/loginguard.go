package sqlserver

import (
	"context"
	"net"
	"sync/atomic"
	"time"
)

// loginGuard is the network dialer of one Dial. go-mssqldb reads the
// PRELOGIN reply and runs the TLS handshake without looking at the ctx it
// was given (only its TCP connect and the login reply honour it), so a
// server that accepts the connection and then says nothing (a hung
// instance, a load balancer with no backend, a half-open connection after a
// failover) held Dial, and the pool's slot, until the server hung up,
// possibly forever, whatever the pool's DialTimeout. The guard closes every
// connection it opened once the Dial's ctx ends, unless the login finished
// first; after that it closes nothing, so the connection outlives the ctx.
//
// It dials as go-mssqldb's own default dialer does (TCP keep-alive from the
// DSN, 30s if unset; not a HostDialer, so the driver resolves the host).
// It takes no lock: one atomic state decides between a finished login and
// an ended ctx, and the watches on the ctx are a lock-free stack, all
// removed once the login finished: left registered, each would last as long
// as the ctx (a goroutine for a ctx of a type of its own), keeping the
// connection it would close.
type loginGuard struct {
	ctx     context.Context
	nd      net.Dialer
	state   atomic.Int32
	watches atomic.Pointer[watch]
	// dialed is every connection the guard opened, newest first.
	dialed atomic.Pointer[dialedConn]
}

// dialedConn is one entry of loginGuard.dialed.
type dialedConn struct {
	t    *transport
	next *dialedConn
}

// watch is one connection's watch on the Dial's ctx.
type watch struct {
	stop func() bool
	next *watch
}

const (
	guardDialing int32 = iota
	guardFinished
	guardAborted
)

func newLoginGuard(ctx context.Context, keepAlive time.Duration) *loginGuard {
	if keepAlive == 0 {
		keepAlive = 30 * time.Second
	}
	return &loginGuard{ctx: ctx, nd: net.Dialer{KeepAlive: keepAlive}}
}

// DialContext implements mssql.Dialer. ctx is the driver's (the Dial's ctx
// with the DSN's dial timeout, cancelled when the driver's connect
// returns), so the guard watches the Dial's own ctx instead.
func (g *loginGuard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	nc, err := g.nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c := &transport{Conn: nc}
	for {
		top := g.dialed.Load()
		if g.dialed.CompareAndSwap(top, &dialedConn{t: c, next: top}) {
			break
		}
	}
	stop := context.AfterFunc(g.ctx, func() {
		if g.state.CompareAndSwap(guardDialing, guardAborted) || g.state.Load() == guardAborted {
			_ = c.Close()
		}
	})
	for {
		top := g.watches.Load()
		if g.watches.CompareAndSwap(top, &watch{stop: stop, next: top}) {
			break
		}
	}
	// A dial the driver abandoned may return after the login finished.
	if g.state.Load() == guardFinished {
		g.unwatch()
	}
	return c, nil
}

// finish reports whether the login finished before the Dial's ctx ended.
// After it returns true the guard closes nothing and no longer watches the
// ctx; after false, every connection it opened is (being) closed.
func (g *loginGuard) finish() bool {
	if g.state.CompareAndSwap(guardDialing, guardFinished) || g.state.Load() == guardFinished {
		g.unwatch()
		return true
	}
	return false
}

// transports lists the connections the guard opened.
func (g *loginGuard) transports() []*transport {
	var ts []*transport
	for d := g.dialed.Load(); d != nil; d = d.next {
		ts = append(ts, d.t)
	}
	return ts
}

// unwatch removes every watch registered so far.
func (g *loginGuard) unwatch() {
	for w := g.watches.Swap(nil); w != nil; w = w.next {
		w.stop()
	}
}
