package manager

import (
	"context"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
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
// It returns nil once every connection id's pool held at the call has
// finished closing, or ctx's error if ctx ends first (the eviction goes on
// regardless). A connection whose close had already begun at the call (its
// lifetime ended, or its pool is retiring) is not waited for: no acquire can
// get it any more, but its session may outlive Evict's return by as long as
// the driver's Close (and a BeforeClose hook) take. An identity without a
// live pool has nothing to evict: Evict returns nil at once. The pool keeps serving meanwhile, on new connections.
// Stats count it in Evictions and the connections in Closes["evicted"].
func (m *Manager) Evict(ctx context.Context, id tokens.Identity) error {
	if err := id.Validate(); err != nil {
		return err
	}
	if m.closed.Load() {
		return ErrClosed
	}
	disc, err := m.resolveKey(ctx, id)
	if err != nil {
		return err
	}
	done := make(chan struct{}, 1)
	m.root.Send(m.pid, &messages.Evict{Discriminator: disc, Done: done})
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("idpool: Evict of %s did not finish: %w", tokens.NewKey(m.cfg.Server, disc).Redacted(), ctx.Err())
	}
}

// Reset evicts every pool (see Evict), like pgxpool's Reset: after it, no
// acquire gets a connection that was open before it. It returns nil once
// every such connection has finished closing (but for those whose close had
// already begun, as for Evict), or ctx's error if ctx ends first (the
// eviction goes on regardless).
func (m *Manager) Reset(ctx context.Context) error {
	if m.closed.Load() {
		return ErrClosed
	}
	reply := make(chan messages.ResetReply, 1)
	m.root.Send(m.pid, &messages.Reset{Reply: reply})
	var r messages.ResetReply
	select {
	case r = <-reply:
	case <-ctx.Done():
		return fmt.Errorf("idpool: Reset did not finish: %w", ctx.Err())
	}
	for n := r.Pools; n > 0; n-- {
		select {
		case <-r.Done:
		case <-ctx.Done():
			return fmt.Errorf("idpool: Reset did not finish (%d pools still closing): %w", n, ctx.Err())
		}
	}
	return nil
}

// evict forwards an Evict to the key's live pool, or answers it at once.
func (m *managerActor) evict(c actor.Context, msg *messages.Evict) {
	id, ok := m.sm.Pool(msg.Discriminator)
	if !ok || m.sm.Closed() {
		msg.Done <- struct{}{}
		return
	}
	m.log().Info("idpool: evict requested", "pool", tokens.NewKey(m.cfg.Server, msg.Discriminator).Redacted())
	c.Send(m.entries[id].pid, msg)
}

// reset evicts every live pool. Each pool answers on one shared channel,
// made here with room for all of them, so no pool ever blocks on it.
func (m *managerActor) reset(c actor.Context, msg *messages.Reset) {
	if m.sm.Closed() {
		msg.Reply <- messages.ResetReply{}
		return
	}
	live := m.sm.Live()
	m.log().Info("idpool: reset requested", "pools", len(live))
	done := make(chan struct{}, len(live))
	for _, id := range live {
		e := m.entries[id]
		c.Send(e.pid, &messages.Evict{Discriminator: e.disc, Done: done})
	}
	msg.Reply <- messages.ResetReply{Pools: len(live), Done: done}
}
