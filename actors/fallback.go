package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/idpool/idpool/messages"
	"github.com/idpool/idpool/tokens"
)

// A pool mints with the credential of the latest acquire it received (see
// tokens.Identity), and mailbox order is not the order in which the
// credentials were made. After a client secret is rotated and the old one
// revoked, a request still in flight with the identity built before the
// rotation reaches the pool after requests with the new one, and switches
// the pool back to the revoked secret; two requests of one user may bring
// their assertions in either order. Alone, that rule failed the callers of
// the next mint.
//
// So the actor remembers the credential whose mint last succeeded (good).
// When a mint with the pool's credential fails and good is another, the
// pool goes back to good and mints again at once, as it does for a failed
// mint of a credential that an acquire replaced meanwhile
// (Pool.retryStaleMint): the callers waiting for that token never see the
// failure unless good fails too. One retry per failed mint: the retry uses
// good, and good's own failure is reported. A later acquire bringing the
// failing credential switches the pool to it again, and costs one more
// failed mint if the pool must mint.
//
// While the pool's own credential is the one that minted last, good is
// mintedOwn and nothing is copied: an idle pool keeps no second Identity.
// The copy is made when an acquire replaces that credential (adopt).
// Only a mint's error counts as a failure here. A token refused for its
// expiry (see Pool.usable) is the state machine's to judge after the step,
// and is handled as before.

// mintedOwn is poolActor.good when the credential to go back to is the
// pool's own (poolActor.identity).
var mintedOwn = new(tokens.Identity)

// adopt makes id's credential the pool's, keeping the one it replaces as
// good if that one minted last.
func (a *poolActor) adopt(id tokens.Identity) {
	if a.good == mintedOwn {
		kept := a.identity
		a.good = &kept
	}
	a.identity = id
}

// fallBackTo returns the credential to go back to after the pool's own
// failed to mint, or nil.
func (a *poolActor) fallBackTo() *tokens.Identity {
	if a.good == nil || a.good == mintedOwn || a.good.SameCredential(a.identity) {
		return nil
	}
	return a.good
}

// mintDone steps a finished mint, first going back to the credential that
// last minted when this one failed (see above), and notes a credential
// that succeeded.
func (a *poolActor) mintDone(c actor.Context, now time.Time, m *messages.MintDone) {
	// The mint ran with a.identity only if no acquire replaced it since
	// the mint began; otherwise the state machine retries with the newer
	// one itself.
	own := a.sm.cred.mintGen == a.sm.cred.gen && !a.sm.closing
	var back *tokens.Identity
	if own && m.Err != nil {
		back = a.fallBackTo()
	}
	if back != nil {
		// Good until it fails too, which no retry follows.
		a.identity, a.good = *back, mintedOwn
		a.step(c, now, NewCredential{})
	}
	a.step(c, now, MintDone{Token: m.Token, Err: m.Err})
	switch {
	case back != nil:
		a.logFailure(c, "idpool: token mint failed; minting again with the credential that last minted", m.Err)
	case m.Err != nil:
		a.logFailure(c, "idpool: token mint failed", m.Err)
	case own && a.sm.latest.Value == m.Token.Value:
		// The pool took the token (one refused for its expiry is no
		// success): this credential is the one to go back to.
		a.good = mintedOwn
	}
}
