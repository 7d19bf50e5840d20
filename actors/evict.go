package actors

import (
	"database/sql/driver"
	"slices"
	"time"

	"github.com/idpool/idpool/tokens"
)

// evictState tracks Evict requests: which era of connections is current,
// and who waits for the older eras to be gone.
type evictState struct {
	// epoch counts Evicts. A dial or mint started in an older epoch is stale
	// when it lands: its connection is closed, its token dropped.
	epoch uint64
	// staleDials counts dials in flight that started before the last Evict.
	staleDials int
	// mintEpoch is the epoch the mint in flight started in.
	mintEpoch uint64
	// closing holds the ids of evicted connections whose close has not
	// finished; nil when there are none.
	closing map[ConnID]struct{}
	// closingBefore counts the other closes that were already in flight at
	// the last Evict (a connection whose lifetime ended, those of a pool
	// that is closing) and have not finished: those sessions were the
	// pool's at the call too, so its answer waits for them. lastID is the
	// last connection id given before that Evict: after it, a close of an
	// id up to lastID that is not in closing is one of those (every other
	// connection of then is marked evicted, and closes through closing).
	closingBefore int
	lastID        ConnID
	// waiters are the Done channels of Evicts not yet answered.
	waiters []chan<- struct{}
	// evictions counts Evict inputs.
	evictions uint64
}

// evict drops every connection the pool holds now: idle ones are closed at
// once, busy ones when they are released, those in a health check when it
// ends, those dialing when the dial lands; the token the pool holds (and a
// mint in flight) is discarded, so the next connection logs in with a token
// minted after Evict. The pool keeps serving meanwhile: a waiter is served by
// a new connection. EffEvicted answers replyTo once every connection of
// before the Evict has finished closing, those whose close had begun before
// it included (immediately if there were none).
// A nil done asks for no answer.
//
// "A token minted after Evict" is the pool's side of it: the credential's
// own cache (azidentity keeps tokens per credential) may hand back the same
// token; to be rid of a credential, acquire with a new Identity (the newest
// credential wins) before or after calling Evict.
func (p *Pool) evict(now time.Time, done chan<- struct{}) {
	r := p.rareMut()
	r.ev.evictions++
	r.ev.closingBefore = p.closesInFlight - len(r.ev.closing)
	r.ev.lastID = p.nextConn
	r.ev.epoch++
	r.ev.staleDials = p.dialing
	if done != nil {
		r.ev.waiters = append(r.ev.waiters, done)
	}
	p.latest = tokens.Token{}
	clear(r.freshTokens)
	r.freshTokens = r.freshTokens[:0]
	for _, c := range p.idle {
		p.evictConn(c)
	}
	clear(p.idle)
	p.idle = p.idle[:0]
	// A copy: evictConn takes c out of conns.
	for _, c := range slices.Clone(p.conns) {
		switch {
		case c.state == connBusy:
			c.evicted = true
		case c.state == connChecking && c.check == checkToken:
			// Only waiting for the mint: nothing uses it, close it now.
			if w := c.waiter; w != nil {
				p.waiters.unbind(w)
			}
			p.evictConn(c)
		case c.state == connChecking:
			c.evicted = true // ValidateDone closes it
		}
	}
	p.serve(now)
	p.maybeEvicted()
}

func (p *Pool) evictConn(c *conn) {
	c.evicted = true
	p.closeConn(c, ReasonEvicted)
}

// Epoch is the pool's current eviction epoch. The actor records it when it
// starts a dial and hands it back with the result (DialDone.Epoch), so that
// a connection dialed before an Evict is not used.
func (p *Pool) Epoch() uint64 {
	if p.rare == nil {
		return 0
	}
	return p.rare.ev.epoch
}

// dialDoneEpoch is dialDone for a dial started in epoch: a connection
// dialed before the last Evict is closed instead of used, and the waiter it
// was for is served by a new dial.
func (p *Pool) dialDoneEpoch(now time.Time, epoch uint64, resource driver.Conn, tok tokens.Token, err error) {
	if epoch == p.Epoch() {
		p.dialDone(now, resource, tok, err)
		return
	}
	if r := p.rareMut(); r.ev.staleDials > 0 {
		r.ev.staleDials--
	}
	if err != nil || p.closing {
		p.dialDone(now, resource, tok, err)
		p.maybeEvicted()
		return
	}
	p.dialing--
	p.endBlocking()
	p.stats.opens++
	c := p.newConn(now, resource, tok)
	p.evictConn(c)
	p.serve(now)
	p.maybeEvicted()
}

// staleMint handles a mint that landed stale, and says so: one started
// before the last Evict has its token (or error) dropped, and one that failed
// with a credential older than the newest known is retried with the newest
// (see NewCredential and retryStaleMint; refused as there). The dials and
// checks waiting on it keep waiting for the new mint, but a waiter already
// carried through one such retry fails instead.
func (p *Pool) staleMint(now time.Time, err error, refused bool) bool {
	if p.closing {
		return false
	}
	if r := p.rare; r != nil && r.ev.mintEpoch != r.ev.epoch {
		p.requestMint(now)
		return true
	}
	return p.retryStaleMint(now, err, refused)
}

// evictCloseDone notes that the close of id has finished.
func (p *Pool) evictCloseDone(id ConnID) {
	r := p.rare
	if r == nil {
		return
	}
	if _, evicted := r.ev.closing[id]; evicted {
		delete(r.ev.closing, id)
	} else if id <= r.ev.lastID && r.ev.closingBefore > 0 {
		r.ev.closingBefore--
	} else {
		return
	}
	p.maybeEvicted()
}

// noteEvictedClose is called by closeConn for a connection being evicted.
func (p *Pool) noteEvictedClose(c *conn) {
	if !c.evicted {
		return
	}
	r := p.rareMut()
	if r.ev.closing == nil {
		r.ev.closing = make(map[ConnID]struct{})
	}
	r.ev.closing[c.id] = struct{}{}
}

// maybeEvicted answers the Evicts waiting once no connection of an older
// epoch is left: none marked evicted, no stale dial in flight, no close
// unfinished that was begun before the last Evict or by it.
func (p *Pool) maybeEvicted() {
	r := p.rare
	if r == nil || len(r.ev.waiters) == 0 || r.ev.staleDials > 0 || len(r.ev.closing) > 0 || r.ev.closingBefore > 0 {
		return
	}
	for _, c := range p.conns {
		if c.evicted {
			return
		}
	}
	for _, w := range r.ev.waiters {
		p.emit(Effect{Kind: EffEvicted, Evicted: w})
	}
	clear(r.ev.waiters)
	r.ev.waiters = r.ev.waiters[:0]
	r.ev.closing = nil
}
