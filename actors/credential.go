package actors

import "time"

// credState follows the newest credential of the pool's key (see
// tokens.Identity: the credential of the most recent acquire wins). The
// actor owns the credential itself; the state machine only counts
// generations, which is all it needs to decide whether a failed mint used a
// credential that has since been replaced.
type credState struct {
	// gen counts the credentials seen; cur is the generation of the
	// credential the pool mints with now: gen, or an older one when the pool
	// adopted a waiter's (see retryWaiterCredential); mintGen is cur when
	// the mint in flight started. Each waiter records the cur it queued
	// under (waiter.gen): the actor adopts an acquire's credential before
	// stepping it, so that generation names the credential it brought.
	// 32 bits each, to make room for Pool.mintStarted. A pool given a new
	// credential on every acquire, 1,000 a second, wraps them in about 50
	// days. A wrap can confuse only the mint in flight and the waiters then
	// queued (generations 2^32 credentials apart), but Stats'
	// CredentialChanges, read from gen, then starts again from 0.
	gen, cur, mintGen uint32
	// retries counts mints retried with another credential after one
	// failed (32 bits, wrapping as gen does, to keep Pool's size class).
	retries uint32
}

// newCredential records that an acquire brought a credential other than the
// one the pool mints with: every mint from now on uses the new one. A
// blocking period begun by failed mints ends, since the new credential may
// well succeed where the old one was refused (a rotated secret, an expired
// on-behalf-of assertion).
//
// like, if not zero, is a queued acquire that brought the same credential
// (a request with the identity from before a rotation, after one with the
// new identity: the credential comes back). The waiters that share its
// generation take the new one, and so does the mint in flight if it uses
// that credential: among live waiters one credential then has one
// generation, and generations still follow the order in which the pool
// took their credentials up (see retryWaiterCredential).
func (p *Pool) newCredential(now time.Time, like uint64) {
	p.cred.gen++
	p.cred.cur = p.cred.gen
	if w := p.waiters.get(like); like != 0 && w != nil {
		old := w.gen
		p.waiters.each(func(w *waiter) bool {
			if w.gen == old {
				w.gen = p.cred.gen
			}
			return true
		})
		if p.minting && p.cred.mintGen == old {
			p.cred.mintGen = p.cred.gen
		}
	}
	if de, ok := p.lastDialErr().(*DialError); ok && de.Mint && !p.closing {
		p.endBlocking()
		p.serve(now)
	}
}

// retryStaleMint handles a failed mint, or one whose token was refused for
// its expiry (refused): if it ran with a credential older than the newest one
// known, it is retried with the newest and retryStaleMint returns true. The
// waiters the failure would have failed (see failCarried) are carried to the
// retry rather than see the old credential's failure (a request that arrives
// during a rotation is served with the new credential), but each only once: a
// waiter already carried through one retry fails now, with this failure. So
// a waiter sees at most two failed mints, its credential's and a newer one's.
// Without that bound a pool given a new credential by every acquire (an
// identity built per request, an on-behalf-of assertion per request) would
// find a newer credential after every failure and retry for as long as
// acquires keep coming: no caller would see the failure (an MFA challenge the
// application must relay), each would wait out its timeout instead, and the
// token endpoint would be asked again on every retry.
func (p *Pool) retryStaleMint(now time.Time, err error, refused bool) bool {
	if err == nil || p.cred.mintGen == p.cred.cur || p.closing {
		return false
	}
	p.stats.mintFailures++
	p.cred.retries++
	failed := p.failCarried(now, err, refused, false)
	p.requestMint(now)
	if failed {
		p.serve(now) // as after any failed mint: a check settled above may have freed a connection
	}
	return true
}

// failCarried fails, with a failed (or refused) mint's cause, each waiter
// that failure would have failed in mintFailed (or refuseMinted) and that an
// earlier retry already carried; the others are marked carried. Those are
// the oldest waiters no other coming connection covers, as many as the dials
// waiting for the token (failUncovered's count), and the waiters of the
// token checks waiting for it, each settled as mintFailed (or refuseMinted)
// settles it. The dials stay, waiting for the retry, as a cancelled waiter
// leaves them: the waiters left, or the idle list, take their connections.
// With own (the retry uses a waiter's credential, see
// retryWaiterCredential), a waiter that brought the credential that failed
// fails too, carried or not, and so does a token check no waiter waits on:
// the retry is for the waiters who brought another credential. It reports
// whether it failed or settled any waiter.
func (p *Pool) failCarried(now time.Time, cause error, refused, own bool) bool {
	fails := func(w *waiter) bool { return w.carried || own && w.gen == p.cred.mintGen }
	var failing []*waiter
	p.eachFailing(func(w *waiter) {
		if fails(w) {
			failing = append(failing, w)
		}
		w.carried = true
	})
	var derr *DialError
	if len(failing) > 0 {
		derr = &DialError{Key: p.cfg.Key, Mint: true, Err: cause}
	}
	for _, w := range failing {
		p.waiters.remove(w)
		p.emit(Effect{Kind: EffFail, ReplyTo: w.replyTo, AcquireID: w.id, Err: derr})
	}
	settled := false
	checking := p.checking
	p.checking = nil
	for _, c := range checking {
		w := c.waiter
		if p.connOf(c.id) != c || !own && (w == nil || !w.carried) || own && w != nil && !fails(w) {
			if w != nil {
				w.carried = true
			}
			p.checking = append(p.checking, c)
			continue
		}
		if derr == nil {
			derr = &DialError{Key: p.cfg.Key, Mint: true, Err: cause}
		}
		p.failCheck(now, c, derr, !refused)
		settled = true
	}
	return len(failing) > 0 || settled
}

// eachFailing calls f on each waiter a failed mint fails (see failCarried
// and failUncovered): the oldest unserved waiters, as many as the dials
// waiting for the token, less the connections coming otherwise.
func (p *Pool) eachFailing(f func(*waiter)) {
	n := p.awaitingToken
	k := min(n, p.waiters.unserved()-(p.coming()-n))
	p.waiters.each(func(w *waiter) bool {
		if k <= 0 {
			return false
		}
		if w.serving != nil {
			return true
		}
		k--
		f(w)
		return true
	})
}
