package actors

import (
	"database/sql/driver"
	"time"

	"github.com/idpool/idpool/tokens"
)

// startDial reserves a slot and opens a connection. Under a global cap the
// reservation first waits for a permit from the manager; a token pool then
// needs a token, so it waits for the (single) mint in flight. fill marks a
// dial made only to keep MinSize: its permit request may be refused.
func (p *Pool) startDial(now time.Time, fill bool) {
	if p.cfg.NeedsPermit {
		p.awaitingPermit++
		if !fill && p.cfg.MinSize > 0 {
			p.rareMut().waiterAsked = true
		}
		p.emit(Effect{Kind: EffRequestPermit, Fill: fill})
		return
	}
	p.startPermittedDial(now)
}

func (p *Pool) startPermittedDial(now time.Time) {
	if p.cfg.UsesToken && p.freshTokenCount() > 0 {
		tok := p.rare.freshTokens[0]
		p.rare.freshTokens = p.rare.freshTokens[1:]
		p.dialing++
		p.emit(Effect{Kind: EffDial, Token: tok})
		return
	}
	if p.cfg.UsesToken && p.cfg.RefreshAhead && p.latest.ValidBeyond(now, p.cfg.TokenThreshold) {
		// The token kept fresh ahead of expiry: no caller waits on a mint.
		p.dialing++
		p.emit(Effect{Kind: EffDial, Token: p.latest})
		return
	}
	if !p.cfg.UsesToken {
		p.dialing++
		p.emit(Effect{Kind: EffDial})
		return
	}
	p.awaitingToken++
	p.requestMint(now)
}

// requestMint starts a mint at now unless one is already in flight: one
// result serves every dial and token check waiting on it.
func (p *Pool) requestMint(now time.Time) {
	if p.minting {
		return
	}
	p.minting = true
	p.mintStarted = now.UnixNano()
	p.cred.mintGen = p.cred.gen
	if p.rare != nil {
		p.rare.ev.mintEpoch = p.rare.ev.epoch
	}
	p.emit(Effect{Kind: EffMint})
}

// fillMin dials up to MinSize, unless recent fill dials failed and the
// backoff has not yet passed, or a fill was held lately (refused at the
// global cap, or failing with no blocking period).
func (p *Pool) fillMin(now time.Time) {
	if p.closing || p.retireDue {
		return
	}
	if held, blocked := p.fillHeld, p.blocked(now); held || blocked {
		// Ask for the Tick that ends the hold or the period. The one asked
		// for when it began may be gone: the pool has one timer, and a Tick
		// before it recomputes the wakes (rescheduleWake), leaving these
		// out while the pool was at MinSize. The pool fell below it later
		// (a broken release, a permit request withdrawn) and stayed there
		// until an unrelated input: an acquire, PoolIdleTimeout's Tick.
		if p.size() < p.cfg.MinSize {
			if held {
				p.wakeNoLaterThan(p.rare.fillRetryAt)
			}
			if blocked {
				p.wakeNoLaterThan(p.rare.blockedUntil)
			}
		}
		return
	}
	for p.size() < p.cfg.MinSize {
		p.startDial(now, true)
	}
}

// dialDone records a finished dial: resource is the new connection, tok the
// token it logged in with. On success the oldest waiter gets it; on failure
// the reservation is freed and the oldest waiter no other dial covers fails
// with the cause.
func (p *Pool) dialDone(now time.Time, resource driver.Conn, tok tokens.Token, err error) {
	p.dialing--
	if err != nil {
		p.stats.dialFailures++
		p.returnUnusedPermits(1)
		derr := &DialError{Key: p.cfg.Key, Err: err}
		p.failUncovered(1, derr)
		p.startBlocking(now, derr)
		p.serve(now)
		// The dial may have been all that kept the pool from retiring
		// (a MinSize fill: see maybeRetire).
		p.maybeRetire(now)
		p.maybeDrained()
		return
	}
	p.endBlocking()
	p.stats.opens++
	if p.cfg.UsesToken && !p.latest.IsZero() && p.latest.Value == tok.Value {
		// A mint since this dial began may have given tok a new expiry
		// (earlier or later, accepted or refused): the newest word holds,
		// as learnExpiry records it on the connections already open.
		tok.ExpiresOn = p.latest.ExpiresOn
	}
	c := p.newConn(now, resource, tok)
	if p.closing {
		p.closeConn(c, ReasonPoolClosed)
		p.maybeDrained()
		return
	}
	// The token was good beyond the threshold when minted; the dial took
	// time, so offer judges it again.
	p.offer(now, p.waiters.firstUnserved(), c)
	p.serve(now)
}

func (p *Pool) newConn(now time.Time, resource driver.Conn, tok tokens.Token) *conn {
	p.nextConn++
	c := &conn{id: p.nextConn, resource: resource, idleSince: now, token: tok, fresh: true}
	if p.cfg.MaxLifetime > 0 {
		life := p.cfg.MaxLifetime
		if p.cfg.LifetimeJitter > 0 {
			life -= time.Duration(p.int64N(int64(p.cfg.LifetimeJitter)))
		}
		c.deadline = now.Add(life)
	}
	p.conns = append(p.conns, c) // ids only grow: conns stays sorted
	return c
}

// failUncovered fails up to n of the oldest waiters that no dial in flight
// will serve any more: they were counting on the dial (or mint) that failed.
func (p *Pool) failUncovered(n int, err error) {
	for ; n > 0 && p.waiters.unserved() > p.coming(); n-- {
		w := p.waiters.firstUnserved()
		p.waiters.remove(w)
		p.emit(Effect{Kind: EffFail, ReplyTo: w.replyTo, AcquireID: w.id, Err: err})
	}
}
