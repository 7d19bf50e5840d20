package actors

import (
	"time"

	"github.com/idpool/idpool/tokens"
)

// credState follows the newest credential of the pool's key (see
// tokens.Identity: the credential of the most recent acquire wins). The
// actor owns the credential itself; the state machine only counts
// generations, which is all it needs to decide whether a failed mint used a
// credential that has since been replaced.
type credState struct {
	// gen counts the credentials seen; mintGen is gen when the mint in
	// flight started.
	// 32 bits each, to make room for Pool.mintStarted. A pool given a new
	// credential on every acquire, 1,000 a second, wraps them in about 50
	// days. A wrap can confuse only the one mint in flight (gen and mintGen
	// 2^32 credentials apart), but Stats' CredentialChanges, read from gen,
	// then starts again from 0.
	gen, mintGen uint32
	// retries counts mints retried with a newer credential after the older
	// one failed.
	retries uint64
}

// newCredential records that an acquire brought a credential other than
// the one the pool mints with: every mint from now on uses the new one. A
// blocking period begun by failed mints ends, since the new credential may
// well succeed where the old one was refused (a rotated secret, an expired
// on-behalf-of assertion).
func (p *Pool) newCredential(now time.Time) {
	// The token the pool keeps (RefreshAhead dials with it, a token check
	// rotates to it) came from the credential before: the next connection
	// mints with the new one, as after Evict. Otherwise a caller whose new
	// credential is refused (an MFA challenge for a renewed on-behalf-of
	// assertion) would be served on a session opened with a token minted
	// before the policy.
	p.latest = tokens.Token{}
	p.cred.gen++
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
	if err == nil || p.cred.mintGen == p.cred.gen || p.closing {
		return false
	}
	p.stats.mintFailures++
	p.cred.retries++
	failed := p.failCarried(now, err, refused)
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
// It reports whether it failed or settled any waiter.
func (p *Pool) failCarried(now time.Time, cause error, refused bool) bool {
	n := p.awaitingToken
	k := min(n, p.waiters.unserved()-(p.coming()-n))
	var carried []*waiter
	p.waiters.each(func(w *waiter) bool {
		if k <= 0 {
			return false
		}
		if w.serving != nil {
			return true
		}
		k--
		if w.carried {
			carried = append(carried, w)
		}
		w.carried = true
		return true
	})
	var derr *DialError
	if len(carried) > 0 {
		derr = &DialError{Key: p.cfg.Key, Mint: true, Err: cause}
	}
	for _, w := range carried {
		p.waiters.remove(w)
		p.emit(Effect{Kind: EffFail, ReplyTo: w.replyTo, AcquireID: w.id, Err: derr})
	}
	settled := false
	checking := p.checking
	p.checking = nil
	for _, c := range checking {
		w := c.waiter
		if p.connOf(c.id) != c || w == nil || !w.carried {
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
	return len(carried) > 0 || settled
}
