package actors

import "time"

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
	p.cred.gen++
	if de, ok := p.lastDialErr().(*DialError); ok && de.Mint && !p.closing {
		p.endBlocking()
		p.serve(now)
	}
}

// retryStaleMint handles a failed mint, or one whose token was refused for
// its expiry: if it ran with a credential older than the newest one known,
// it is retried with the newest (the caller never sees the old credential's
// failure) and retryStaleMint returns true.
func (p *Pool) retryStaleMint(now time.Time, err error) bool {
	if err == nil || p.cred.mintGen == p.cred.gen || p.closing {
		return false
	}
	p.stats.mintFailures++
	p.cred.retries++
	p.requestMint(now)
	return true
}
