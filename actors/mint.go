package actors

import (
	"time"

	"github.com/idpool/idpool/tokens"
)

// mintDone records a finished token mint. A token that is not valid beyond
// the token threshold (expiry unknown included) is refused like a failed mint
// (see refuseMinted), and like a failed mint it is retried when it came from
// a credential older than the newest known (see retryStaleMint, which
// carries each waiter through one such retry at most); it is also
// asked for again, once, when it crossed the threshold during its mint (see
// retryCrossedMint). Otherwise dials waiting on it proceed with tok, and
// connections whose token was near expiry are settled: the same token, now
// valid beyond the threshold, keeps them with its new expiry; a rotated token
// retires them and their idle siblings holding the stale token, and reopens
// with tok without minting again.
func (p *Pool) mintDone(now time.Time, tok tokens.Token, err error) {
	p.minting = false
	retried := p.mintRetried
	p.mintRetried = false
	if p.closing {
		p.settleChecksOnClose()
		p.maybeDrained()
		return
	}
	if err == nil {
		p.learnExpiry(tok)
	}
	if p.staleMint(now, err, false) { // from before an Evict, or an older credential's failure
		return
	}
	if err != nil {
		p.mintFailed(now, err)
		return
	}
	if cause := p.usable(now, tok); cause != nil {
		if p.retryStaleMint(now, cause, true) { // an older credential's token: as for a failed mint
			return
		}
		if !retried && p.retryCrossedMint(now, tok) {
			return
		}
		p.refuseMinted(now, cause)
		return
	}
	p.stats.mints++
	p.latest = tok
	p.wakeNoLaterThan(p.nextRefresh(now))
	if de, ok := p.lastDialErr().(*DialError); ok && de.Mint {
		p.endBlocking() // the token endpoint works again
	}
	for ; p.awaitingToken > 0; p.awaitingToken-- {
		p.dialing++
		p.emit(Effect{Kind: EffDial, Token: tok})
	}
	checking := p.checking
	p.checking = nil
	for _, c := range checking {
		if p.connOf(c.id) != c { // closed meanwhile
			continue
		}
		if c.token.Value == tok.Value { // its expiry was refreshed above
			p.settleChecked(now, c)
			continue
		}
		p.rotate(c, tok)
	}
	p.serve(now)
}

// retryCrossedMint handles a token refused only because it crossed the
// threshold while it was being minted: valid beyond the threshold when the
// mint began, inside it when the mint landed. azidentity hands back its
// cached token until 5 minutes before it expires, the default threshold,
// so a mint begun just before that point brings a token the pool refuses
// milliseconds later; asked again, azidentity (now inside its own window)
// refreshes it. So the pool asks once more rather than fail its waiters,
// and reports whether it did. The caller allows one retry per refusal: the
// retry's token is judged from the retry's own start, and a second
// crossing is refused.
func (p *Pool) retryCrossedMint(now time.Time, tok tokens.Token) bool {
	if p.closing || !tok.ValidBeyond(time.Unix(0, p.mintStarted), p.cfg.TokenThreshold) {
		return false
	}
	p.stats.mintFailures++
	p.requestMint(now)
	p.mintRetried = true
	return true
}

// dropSpareTokens forgets fresh tokens no reservation or waiter is waiting
// to use: a token kept around would only get older. A waiter no dial covers
// yet keeps one: its dial may have to wait for a slot held by a close still
// in flight (the rotated connection's own, typically).
func (p *Pool) dropSpareTokens() {
	r := p.rare
	if r == nil {
		return
	}
	want := p.awaitingPermit + max(0, p.waiters.unserved()-p.coming())
	if n := min(len(r.freshTokens), want); n < len(r.freshTokens) {
		clear(r.freshTokens[n:])
		r.freshTokens = r.freshTokens[:n]
	}
}

// learnExpiry takes a minted token's expiry as the newest word on it,
// whether or not the token is usable now (a refused token's expiry is news
// too, and a stale mint's): every connection that logged in with it records
// it (refreshExpiry), and so does the pool's newest token if it is the same
// one, which a dial in flight with it takes when it opens (dialDone).
// Otherwise a connection could be handed out on an expiry the source has
// since moved earlier.
func (p *Pool) learnExpiry(tok tokens.Token) {
	p.refreshExpiry(tok)
	if !p.latest.IsZero() && p.latest.Value == tok.Value {
		p.latest.ExpiresOn = tok.ExpiresOn
	}
}

// refreshExpiry records tok's expiry on every connection that logged in
// with it: later (a re-check found the same token renewed) or earlier (the
// source now says it expires sooner). An idle connection whose expiry moved
// earlier gets a wake early enough for the sweep to close it in time.
func (p *Pool) refreshExpiry(tok tokens.Token) {
	for _, c := range p.conns {
		if c.token.Value != tok.Value || c.token.ExpiresOn.Equal(tok.ExpiresOn) {
			continue
		}
		c.token.ExpiresOn = tok.ExpiresOn
		if c.state == connIdle {
			p.wakeNoLaterThan(p.connWake(c))
		}
	}
}

// rotate retires c, whose token was replaced, and every idle connection with
// the same stale token. c's waiter goes back to the queue; the fresh token is
// kept so that, if serve must dial for it (no usable idle connection), the
// dial needs no second mint.
func (p *Pool) rotate(c *conn, fresh tokens.Token) {
	p.stats.rotations++
	stale := c.token.Value
	if w := c.waiter; w != nil {
		p.waiters.unbind(w)
	}
	r := p.rareMut()
	r.freshTokens = append(r.freshTokens, fresh)
	p.closeConn(c, ReasonTokenRotated)
	kept := p.idle[:0]
	for _, s := range p.idle {
		if s.token.Value == stale {
			p.closeConn(s, ReasonStaleToken)
			continue
		}
		kept = append(kept, s)
	}
	clear(p.idle[len(kept):])
	p.idle = kept
}

// settleChecked finishes a successful token check of c: a health check may
// still be due; otherwise c goes to its waiter, or back to idle.
func (p *Pool) settleChecked(now time.Time, c *conn) {
	w := c.waiter
	if p.healthDue(now, c) {
		if w != nil {
			p.waiters.unbind(w)
		}
		p.startHealthCheck(c, w)
		return
	}
	if w != nil {
		p.grant(w, w.id, w.replyTo, now.Sub(w.since), c, w.holder)
		return
	}
	p.parkIdle(c)
}

// failAwaitingDials is what every failed or refused mint does first: the
// dials that waited for its token give back their permits, their waiters
// fail with the returned error, and a blocking period may start.
func (p *Pool) failAwaitingDials(now time.Time, cause error) *DialError {
	p.stats.mintFailures++
	n := p.awaitingToken
	p.awaitingToken = 0
	p.returnUnusedPermits(n)
	derr := &DialError{Key: p.cfg.Key, Mint: true, Err: cause}
	p.failUncovered(n, derr)
	p.startBlocking(now, derr)
	return derr
}

func (p *Pool) mintFailed(now time.Time, err error) {
	derr := p.failAwaitingDials(now, err)
	// A connection whose token was being re-checked: its token is still
	// accepted by the server until it expires, so a still-valid one is used
	// rather than failing the caller; an unknown or past expiry fails closed.
	checking := p.checking
	p.checking = nil
	for _, c := range checking {
		if p.connOf(c.id) == c {
			p.failCheck(now, c, derr, true)
		}
	}
	p.serve(now)
	p.maybeRetire(now) // as after a failed dial (dialDone)
	p.maybeDrained()
}

// failCheck ends the token check of c, open still, when its mint failed
// (or its token was refused) with derr. With keepValid, a token still
// accepted by the server until it expires is used rather than failing the
// caller: c is settled as if its check had passed. Otherwise (unknown or past
// expiry, or keepValid false) c is closed and its waiter, if any, fails.
func (p *Pool) failCheck(now time.Time, c *conn, derr *DialError, keepValid bool) {
	if keepValid && !c.token.ExpiresOn.IsZero() && now.Before(c.token.ExpiresOn) {
		p.settleChecked(now, c)
		return
	}
	if w := c.waiter; w != nil {
		p.waiters.remove(w)
		p.emit(Effect{Kind: EffFail, ReplyTo: w.replyTo, AcquireID: w.id, Err: derr})
	}
	p.closeConn(c, ReasonTokenExpiring)
}

// settleChecksOnClose closes connections whose token check ended after Close.
func (p *Pool) settleChecksOnClose() {
	for _, c := range p.checking {
		if p.connOf(c.id) == c {
			p.closeConn(c, ReasonPoolClosed)
		}
	}
	p.checking = nil
}
