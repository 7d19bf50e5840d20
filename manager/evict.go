package manager

import (
	"context"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/idpool/idpool/manager/decide"
	"github.com/idpool/idpool/messages"
	"github.com/idpool/idpool/tokens"
)

// Evict drops id's connections: idle ones are closed at once, leased ones
// when they are released (their holders keep using them until then), and
// the next acquire for id opens a new connection with a token its pool mints
// after Evict. Use it when a user is disabled, a permission revoked or a
// credential known to be compromised (then also acquire with a new Identity
// over the new credential: the pool's credential's own cache may otherwise
// hand back the same token).
//
// It returns nil once every connection id's pools held at the call has
// finished closing, those whose close had already begun included (a
// connection whose lifetime ended, or the connections of a pool retiring
// meanwhile), or ctx's error if ctx ends first (the eviction goes on
// regardless), or ErrClosed if Close begins first (Close closes
// everything: a close that hangs holds neither call). An identity without a pool has nothing to evict: Evict
// returns nil at once (a token-keyed identity that has not learnt its key
// yet first mints once to learn it, bounded as its first Acquire would be).
// The pool keeps serving meanwhile, on new connections.
// Stats count it in Evictions and the connections in Closes["evicted"].
func (m *Manager) Evict(ctx context.Context, id tokens.Identity) error {
	if !m.started() {
		return ErrNoManager
	}
	if ctx == nil {
		return nilContextError("Manager.Evict")
	}
	if err := id.Validate(); err != nil {
		return err
	}
	if m.closed.Load() {
		return ErrClosed
	}
	// A key already learned is evicted as it is: resolveKey would judge
	// the identity's newest token first (tokens.Identity.KeyCurrent), and
	// the identity evicted is often one whose source can mint no more.
	var disc string
	var err error
	if id.KeyResolved() {
		disc, err = id.Discriminator(ctx)
	} else {
		disc, err = m.resolveKey(ctx, id)
	}
	if err != nil {
		return err
	}
	reply := make(chan messages.ResetReply, 1)
	m.root.Send(m.pid, &messages.Evict{Discriminator: disc, Reply: reply})
	if pending, err := awaitEvicts(ctx, m.life, reply); err != nil {
		return evictUnfinished("Evict of "+tokens.NewKey(m.cfg.Server, disc).Redacted(), pending, err)
	}
	return nil
}

// Reset evicts every pool (see Evict), like pgxpool's Reset: after it, no
// acquire gets a connection that was open before it. It returns nil once
// every such connection has finished closing, or ctx's error if ctx ends
// first (the eviction goes on regardless), or ErrClosed if Close begins
// first.
func (m *Manager) Reset(ctx context.Context) error {
	if !m.started() {
		return ErrNoManager
	}
	if ctx == nil {
		return nilContextError("Manager.Reset")
	}
	if m.closed.Load() {
		return ErrClosed
	}
	reply := make(chan messages.ResetReply, 1)
	m.root.Send(m.pid, &messages.Reset{Reply: reply})
	if pending, err := awaitEvicts(ctx, m.life, reply); err != nil {
		return evictUnfinished("Reset", pending, err)
	}
	return nil
}

// awaitEvicts waits for the manager's reply, then for each pool it names to
// answer, or for ctx; if ctx ends first it returns ctx's error and how many
// pools had not answered (-1 when the manager had not replied yet). Close
// (life's end) ends the wait too, with ErrClosed: a close that hangs would
// otherwise hold an Evict whose ctx never ends past Close, for good, and
// Close closes everything anyway.
func awaitEvicts(ctx, life context.Context, reply <-chan messages.ResetReply) (pending int, err error) {
	var r messages.ResetReply
	select {
	case r = <-reply:
	case <-ctx.Done():
		return -1, ctx.Err()
	case <-life.Done():
		select {
		case r = <-reply: // an answer at hand wins over Close
		default:
			return -1, ErrClosed
		}
	}
	for n := r.Pools; n > 0; n-- {
		select {
		case <-r.Done:
		case <-ctx.Done():
			return n, ctx.Err()
		case <-life.Done():
			select {
			case <-r.Done: // so does a pool's that has answered
			default:
				return n, ErrClosed
			}
		}
	}
	return 0, nil
}

// evictUnfinished is the error of an Evict or Reset (what) whose ctx ended
// with pending pools still closing.
func evictUnfinished(what string, pending int, err error) error {
	if pending < 0 {
		return fmt.Errorf("idpool: %s did not finish: %w", what, err)
	}
	return fmt.Errorf("idpool: %s did not finish (pools still closing: %d): %w", what, pending, err)
}

// evict forwards an Evict to every pool of the key that has not drained (its
// live pool, and one closing after its retirement), or answers it at once.
func (m *managerActor) evict(c actor.Context, msg *messages.Evict) {
	if m.sm.Closed() {
		msg.Reply <- messages.ResetReply{}
		return
	}
	pools := m.sm.PoolsOf(msg.Discriminator)
	if len(pools) > 0 {
		m.log().Info("idpool: evict requested", "pool", tokens.NewKey(m.cfg.Server, msg.Discriminator).Redacted())
	}
	msg.Reply <- m.sendEvicts(c, pools)
}

// reset evicts every pool that has not drained.
func (m *managerActor) reset(c actor.Context, msg *messages.Reset) {
	if m.sm.Closed() {
		msg.Reply <- messages.ResetReply{}
		return
	}
	pools := m.sm.Undrained()
	m.log().Info("idpool: reset requested", "pools", len(pools))
	msg.Reply <- m.sendEvicts(c, pools)
}

// sendEvicts sends an Evict to each of pools. They answer on one shared
// channel, made here with room for all of them, so no pool ever blocks on
// it.
func (m *managerActor) sendEvicts(c actor.Context, pools []decide.PoolID) messages.ResetReply {
	done := make(chan struct{}, len(pools))
	for _, id := range pools {
		e := m.entries[id]
		c.Send(e.pid, &messages.Evict{Discriminator: e.disc, Done: done})
	}
	return messages.ResetReply{Pools: len(pools), Done: done}
}
