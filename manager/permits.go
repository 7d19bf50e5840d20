package manager

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/idpool/idpool/messages"
)

// permitBook is the manager's account of the global cap (Config.MaxTotal):
// how many connections are open or dialing across all pools, which pool holds
// how many, and the pools waiting for one, served first come, first served so
// that no identity starves.
type permitBook struct {
	limit int
	inUse int
	queue []*actor.PID
	held  map[string]int
	// tried holds pools that refused a steal since the last grant, so the
	// next steal asks someone else.
	tried map[string]bool
}

func newPermitBook(limit int) *permitBook {
	return &permitBook{limit: limit, held: make(map[string]int), tried: make(map[string]bool)}
}

// request grants a permit, or queues the request and asks another pool to
// give one up. A fill request (only for a pool's MinSize) is granted only if
// there is room now; otherwise it is refused, never queued and never paid
// for by another pool, which would then refill in turn: with MinSize under a
// cap too small for every pool's minimum, that stealing went on for ever.
func (b *permitBook) request(c actor.Context, pool *actor.PID, fill bool) {
	if b.inUse < b.limit && len(b.queue) == 0 {
		b.grant(c, pool)
		return
	}
	if fill {
		c.Send(pool, &messages.FillRefused{})
		return
	}
	b.queue = append(b.queue, pool)
	b.steal(c, pool)
}

// steal asks the pool holding the most permits (other than the one waiting,
// and other than those that just refused) to give one up. Taking from the
// largest keeps small identities from being squeezed out.
func (b *permitBook) steal(c actor.Context, waiting *actor.PID) {
	if victim := b.richestOtherThan(waiting); victim != nil {
		c.Send(victim, &messages.StealIdle{})
	}
}

// refused: that pool had nothing to give; ask another for the oldest request.
func (b *permitBook) refused(c actor.Context, pool *actor.PID) {
	b.tried[pool.Id] = true
	if len(b.queue) > 0 {
		b.steal(c, b.queue[0])
	}
}

func (b *permitBook) grant(c actor.Context, pool *actor.PID) {
	b.inUse++
	b.held[pool.Id]++
	clear(b.tried)
	c.Send(pool, &messages.PermitGrant{})
}

func (b *permitBook) release(c actor.Context, pool *actor.PID) {
	b.inUse--
	if b.held[pool.Id]--; b.held[pool.Id] <= 0 {
		delete(b.held, pool.Id)
	}
	granted := false
	for b.inUse < b.limit && len(b.queue) > 0 {
		next := b.queue[0]
		b.queue[0] = nil
		b.queue = b.queue[1:]
		b.grant(c, next)
		granted = true
	}
	// The steal asked for when the served request queued may have been
	// spent on it; keep one in flight for the new head, or room freed by the
	// pools that hold it would never come back to the queue.
	if granted && len(b.queue) > 0 {
		b.steal(c, b.queue[0])
	}
}

func (b *permitBook) richestOtherThan(pool *actor.PID) *actor.PID {
	best, bestN := "", 0
	for id, n := range b.held {
		if id != pool.Id && !b.tried[id] && (n > bestN || n == bestN && id < best) {
			best, bestN = id, n
		}
	}
	if bestN == 0 {
		return nil
	}
	return actor.NewPID(pool.Address, best)
}

// denyAll answers every queued request for good, when the manager closes.
func (b *permitBook) denyAll(c actor.Context) {
	for _, pool := range b.queue {
		c.Send(pool, &messages.PermitDenied{})
	}
	b.queue = nil
}
