package manager

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/idpool/idpool/tokens"
)

// keyLookups counts the token mints made to learn a token-keyed identity's
// key (tokens.NewTokenKeyed), or to show that its source still mints a
// token not expired before a learned key is used again
// (tokens.Identity.KeyCurrent). They happen outside any pool, so the
// manager counts them and Stats adds them to Total.TokenMints
// and Total.MintFailures, like every other mint.
type keyLookups struct{ mints, failures atomic.Uint64 }

func (k *keyLookups) addTo(total *PoolStats) {
	total.TokenMints += k.mints.Load()
	total.MintFailures += k.failures.Load()
}

// resolveKey returns id's discriminator. A key already known costs an atomic
// load. A token-keyed identity that must mint to learn its key does so under
// the acquire's deadline (its ctx's, or AcquireTimeout) and MintTimeout, one
// caller at a time per identity (the others wait for its result,
// tokens.Identity.ResolveKey), and the mint is counted: one the acquire
// stopped waiting for counts as failed, whatever it returns later. Close
// ends the lookup as it ends the pools' mints (through its ctx), and the
// acquire with ErrClosed: nothing else would until the deadline.
func (m *Manager) resolveKey(ctx context.Context, id tokens.Identity) (string, error) {
	if id.KeyCurrent(m.keyTokenExpired) {
		return id.Discriminator(ctx)
	}
	ctx, cancelAcquire := m.boundAcquire(ctx)
	defer cancelAcquire()
	acquireCtx := ctx
	if m.cfg.MintTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.cfg.MintTimeout)
		defer cancel()
	}
	mintCtx := ctx
	ctx, cancelAtClose := context.WithCancel(ctx)
	defer cancelAtClose()
	defer context.AfterFunc(m.life, cancelAtClose)()
	disc, minted, err := id.ResolveKeyChecked(ctx, m.keyTokenExpired)
	if err != nil && acquireCtx.Err() == nil && errors.Is(mintCtx.Err(), context.DeadlineExceeded) {
		// MintTimeout's, not the acquire's: say so, as a pool's mint does.
		err = fmt.Errorf("%w (MintTimeout (%s) passed)", err, m.cfg.MintTimeout)
	}
	switch {
	case minted && err == nil:
		m.keys.mints.Add(1)
	case minted:
		m.keys.failures.Add(1)
	}
	if err != nil && m.life.Err() != nil {
		return "", ErrClosed
	}
	return disc, err
}

// lookupKey is resolveKey for the facade's identity checks, which compare
// the identity in a call's ctx with the lease it reaches (Lease.CheckIdentity,
// a facade connection bound to the default identity at its first call, a
// hand-over): bounded as an Acquire's lookup is, by the ctx's deadline or
// else AcquireTimeout (and MintTimeout), and failing as an Acquire that ran
// out of time in its lookup does. Under the call's ctx alone, a call with
// context.Background() whose identity's token service did not answer waited
// for ever, holding the lease it was checked against busy, and every
// acquire of that identity waited on the same lookup until its deadline.
// A token handed in that Acquire would refuse for its expiry is refused
// here too: its key is also that of the TokenFuncIdentity whose first token
// it was, and the check would let it run on that identity's connection.
func (m *Manager) lookupKey(ctx context.Context, id tokens.Identity) (string, error) {
	if err := m.handedInExpired(id); err != nil {
		return "", err
	}
	if id.KeyCurrent(m.keyTokenExpired) {
		return id.Discriminator(ctx)
	}
	ctx, cancel := m.boundAcquire(ctx)
	defer cancel()
	disc, err := m.resolveKey(ctx, id)
	if err != nil && ctx.Err() != nil {
		return "", m.keyLookupEnded(ctx, err)
	}
	return disc, err
}
