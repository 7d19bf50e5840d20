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
// So the actor remembers the credential whose token the pool last took
// (good). When a mint with the pool's own credential fails and good is
// another, the actor mints once more with good before it tells the state
// machine, which sees one mint: the callers waiting for its token are
// served by good's token, or fail with the pool's own credential's error.
// The pool's credential stays what it was: good is asked for that one
// mint, not adopted, so a later mint tries the pool's own first again, and
// a blocking period begun by the failure holds (a fall-back is no new
// credential). The fall-back is skipped, and good is not changed, for a
// mint whose result the pool drops (begun before an Evict, or the pool
// closing) or whose credential an acquire replaced meanwhile (the state
// machine retries that one with the newer credential itself).
//
// good is forgotten when it fails to mint, and at Evict: a caller evicting
// an identity may be dropping a compromised credential, or a user whose
// sessions were revoked, and no mint after it may go back to one from
// before it. While the pool's own credential is the one whose token it
// last took, good is mintedOwn and nothing is copied; the copy is made when
// an acquire replaces that credential (adopt), and kept until a mint
// succeeds or fails with it, or an Evict: an idle pool holds at most that
// one identity besides its own.

// mintedOwn is poolActor.good when the credential to go back to is the
// pool's own (poolActor.identity).
var mintedOwn = new(tokens.Identity)

// adopt makes id's credential the pool's, keeping the one it replaces as
// good if the pool last took a token of that one.
func (a *poolActor) adopt(id tokens.Identity) {
	if a.good == mintedOwn {
		kept := a.identity
		a.good = &kept
	}
	a.identity = id
}

// goodIdentity is the identity whose token the pool last took, or nil.
func (a *poolActor) goodIdentity() *tokens.Identity {
	if a.good == mintedOwn {
		return &a.identity
	}
	return a.good
}

// tookTokenOf notes that the pool took a token minted by used's credential.
func (a *poolActor) tookTokenOf(used tokens.Identity) {
	if used.SameCredential(a.identity) {
		a.good = mintedOwn
		return
	}
	a.good = &used
}

// failedToMint forgets good if it is used's credential, which just failed.
func (a *poolActor) failedToMint(used tokens.Identity) {
	if g := a.goodIdentity(); g != nil && g.SameCredential(used) {
		a.good = nil
	}
}

// mintDone handles a finished mint: a failure of the pool's own
// credential is first tried once more with good (see above); then the
// state machine gets the result.
func (a *poolActor) mintDone(c actor.Context, now time.Time, m *messages.MintDone) {
	outdated, newest := a.sm.mintOutdated(), a.sm.mintWithNewest()
	if m.Err != nil {
		if !outdated {
			a.failedToMint(m.Identity)
		}
		if m.FirstErr == nil && !outdated && newest {
			if g := a.goodIdentity(); g != nil && !g.SameCredential(m.Identity) {
				a.logFailure(c, "idpool: token mint failed; minting once more with the credential that minted last", m.Err)
				a.mint(c, *g, m.Err)
				return
			}
		}
	}
	fellBack := m.FirstErr != nil
	err := m.Err
	if fellBack && err != nil {
		// The callers hear of their pool's own credential's failure; the
		// fall-back's is logged.
		a.logFailure(c, "idpool: token mint with the credential that minted last failed too", err)
		err = m.FirstErr
	}
	a.step(c, now, MintDone{Token: m.Token, Err: err, FellBack: fellBack})
	switch {
	case err != nil && !fellBack:
		a.logFailure(c, "idpool: token mint failed", err)
	case err == nil && !outdated && a.sm.latest.Value == m.Token.Value:
		// The pool took the token (one refused for its expiry is no
		// success): its credential is the one to go back to.
		a.tookTokenOf(m.Identity)
	}
}
