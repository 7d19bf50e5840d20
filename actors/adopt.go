package actors

import "time"

// retryWaiterCredential handles a failed mint, or one whose token was refused
// for its expiry (refused), that ran with the newest credential (none newer
// known since it started, see retryStaleMint) when a waiter brought another
// credential, not tried. Failing that waiter with the error of a credential
// it did not bring would be wrong: in a rotation, a caller with the new,
// working secret that queued before a late caller with the old, revoked one
// would fail with the revoked secret's error (whether failed by the mint,
// or by the blocking period it starts). So it fails only the waiters that
// brought the failed credential, all of them (so that none is served with a
// token of a credential older than its own; one whose connection is being
// health-checked too, as a cancel would leave it), and those an earlier
// retry carried; the others the failure would fail are carried (see
// failCarried). Then the pool adopts the credential of a waiter left (of
// those, the credential it took up most recently, so that no waiter left is
// served with a credential taken up before its own) and mints again with
// it. It reports whether it did.
//
// The credential it adopts is one a waiter still queued brought: the pool
// never mints with a credential no current acquire brought, and never
// turns, for a caller who brought the credential that failed, to another
// one. It adopts once per credential taken up (not again until an acquire
// brings another: cur is then gen again), so a failure costs one more mint
// at most, however many credentials wait: a pool given a credential per
// request (on-behalf-of) does not ask the token endpoint for each. If the
// adopted credential fails too, its waiters get its error, their own; with
// three or more credentials waiting, a waiter whose credential was taken up
// before the adopted one gets that one's error (the newest wins).
//
// The actor learns which credential from EffAdoptCredential, emitted just
// before the mint's EffMint.
func (p *Pool) retryWaiterCredential(now time.Time, err error, refused bool) bool {
	failed := p.cred.mintGen
	if p.closing || failed != p.cred.cur || p.cred.cur != p.cred.gen {
		return false
	}
	spare := false
	p.waiters.each(func(w *waiter) bool {
		awaits := w.serving == nil || w.serving.check == checkToken
		spare = awaits && !w.carried && w.gen != failed
		return !spare
	})
	if !spare {
		return false
	}
	p.stats.mintFailures++
	p.cred.retries++
	p.failCarried(now, err, refused, true)
	var derr *DialError
	var own []*waiter
	p.waiters.each(func(w *waiter) bool {
		if w.gen == failed {
			own = append(own, w)
		}
		return true
	})
	for _, w := range own {
		if derr == nil {
			derr = &DialError{Key: p.cfg.Key, Mint: true, Err: err}
		}
		p.waiters.remove(w)
		p.emit(Effect{Kind: EffFail, ReplyTo: w.replyTo, AcquireID: w.id, Err: derr})
	}
	var adopt *waiter
	p.waiters.each(func(w *waiter) bool {
		if adopt == nil || genAfter(w.gen, adopt.gen) {
			adopt = w
		}
		return true
	})
	p.cred.cur = adopt.gen
	p.emit(Effect{Kind: EffAdoptCredential, AcquireID: adopt.id})
	p.requestMint(now)
	p.serve(now)
	return true
}

// genAfter reports whether credential generation a came after b, allowing
// for the counter's wrap (see credState).
func genAfter(a, b uint32) bool { return int32(a-b) > 0 }
