package tokens

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/idpool/idpool/internal/panicdesc"
)

// keyFlight is one token-keyed identity's key lookup in progress: the first
// caller mints, the others wait for its result (single flight). It needs no
// mutex: the flight is published with a compare-and-swap and its result is
// read only after done is closed.
type keyFlight struct {
	done chan struct{}
	disc string
	err  error
}

// KeyResolved reports whether Discriminator costs nothing: always, except
// for a token-keyed identity (NewTokenKeyed) that has not learned its key
// yet. It is an atomic load.
func (id Identity) KeyResolved() bool {
	return id.fromToken() == nil || id.fromToken().disc.Load() != nil
}

// ResolveKey is Discriminator, also saying whether this call minted a token
// to learn the key. For a token-keyed identity without its key yet, one call
// at a time mints (single flight across the copies of the Identity value):
// the others wait for its result or for their own ctx. A lookup that fails
// is not remembered, so the next call mints again; a caller whose own ctx is
// still alive when the minting caller's ctx ended takes over and mints.
//
// No call outlives its ctx, the minting one included: the mint runs in a
// goroutine of its own, under the minting caller's ctx, so a token source
// that ignores its ctx holds up nobody past their ctx's end. Such a call
// returns minted true and its ctx's error; a token the source returns
// later still teaches the identity its key.
//
// A token that has expired, or has no known expiry, on the system clock
// teaches no key: the lookup fails and the next call mints again (see
// ResolveKeyChecked).
//
// A nil ctx is refused first, as Discriminator refuses it, with an error
// matching ErrNilContext that names ResolveKey.
func (id Identity) ResolveKey(ctx context.Context) (disc string, minted bool, err error) {
	if ctx == nil {
		return "", false, nilContextError("Identity.ResolveKey")
	}
	return id.ResolveKeyChecked(ctx, nil)
}

// ResolveKeyChecked is ResolveKey that learns the key only from a token
// check accepts: a token it refuses fails the lookup with check's error, and
// teaches no key, so the next call mints again. A nil check refuses a token
// that has expired or has no known expiry on the system clock, as ResolveKey
// and Discriminator do; manager.Acquire passes one that judges the same on
// its Config.Clock. The key of a token that has expired is still that of the
// identity whose first token it was, whose pool holds connections opened
// with its newer tokens, and a pool hit mints nothing: whichever call
// learned it, every later Acquire would be served those connections. So a
// check must never accept such a token. For the same reason a key already
// learned is returned only while check accepts the newest token the
// identity's own source returned (see KeyCurrent); once it refuses that
// one, the call mints again through the source, as in learning the key,
// and fails unless check accepts the new token (which must be of the first
// token's principal, see NewTokenKeyed). A nil check does not judge a key
// already learned: Discriminator and ResolveKey name the key, they
// authenticate nothing. The callers that wait for another's lookup get its
// result, whatever their own check.
//
// A nil ctx is refused first, for every identity, with an error matching
// ErrNilContext, before any lookup is published; it panicked with a bare nil
// pointer at the lookup's first look at ctx (see Discriminator for why an
// identity that needs no lookup refuses it too).
func (id Identity) ResolveKeyChecked(ctx context.Context, check func(Token) error) (disc string, minted bool, err error) {
	if ctx == nil {
		return "", false, nilContextError("Identity.ResolveKeyChecked")
	}
	if err := id.Validate(); err != nil {
		return "", false, err
	}
	judged := check != nil
	if check == nil {
		check = unexpiredNow
	}
	k := id.fromToken()
	if k == nil {
		return id.disc, false, nil
	}
	for {
		if d := k.disc.Load(); d != nil && (!judged || k.current(check)) {
			return *d, false, nil
		}
		if err := ctx.Err(); err != nil {
			return "", false, fmt.Errorf("idpool: waiting for the %s identity's key: %w", id.kind, err)
		}
		f, lead := k.flight.Load(), false
		if f == nil {
			nf := &keyFlight{done: make(chan struct{})}
			if !k.flight.CompareAndSwap(nil, nf) {
				continue
			}
			f, lead = nf, true
			go id.fly(ctx, k, nf, check)
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return "", lead, fmt.Errorf("idpool: waiting for the %s identity's key: %w", id.kind, ctx.Err())
		}
		switch {
		case lead:
			return f.disc, true, f.err
		case f.err == nil:
			return f.disc, false, nil
		case isCtxErr(f.err) && ctx.Err() == nil:
			continue // the minting caller gave up, not us: try again
		}
		return "", false, f.err
	}
}

// fly runs the mint of flight f under ctx, publishes its result and ends
// the flight.
func (id Identity) fly(ctx context.Context, k *tokenDerivedKey, f *keyFlight, check func(Token) error) {
	d, err := id.mintKey(ctx, check)
	if err == nil {
		stored := d // published by address: never written again
		k.disc.CompareAndSwap(nil, &stored)
		d = *k.disc.Load()
	}
	f.disc, f.err = d, err
	k.flight.Store(nil)
	close(f.done)
}

// mintKey mints one token and keys the identity by its hash. A source that
// panics fails this lookup with an error, as a panic in a pool's own mint
// does: the panic must not leave the flight in progress for ever, nor reach
// the caller of Acquire. The panic value is not printed (see
// internal/panicdesc): it may hold anything, a token among them. A token
// check refuses teaches nothing; check runs under the same recover.
func (id Identity) mintKey(ctx context.Context, check func(Token) error) (disc string, err error) {
	defer func() {
		if r := recover(); r != nil {
			disc, err = "", fmt.Errorf("idpool: minting a token to learn the %s identity's key: the token source panicked: %s", id.kind, panicdesc.Describe(r))
		}
	}()
	tok, err := id.source.Token(ctx)
	if err != nil {
		return "", fmt.Errorf("idpool: minting a token to learn the %s identity's key: %w", id.kind, err)
	}
	if tok.IsZero() {
		return "", fmt.Errorf("idpool: the %s identity's token source returned an empty token", id.kind)
	}
	if check != nil {
		if err := check(tok); err != nil {
			return "", fmt.Errorf("idpool: the %s identity's key is learned from no such token: %w", id.kind, err)
		}
	}
	return tokenDiscriminator(id.kind, tok.Value), nil
}

// unexpiredNow is the check of a key lookup that names none (ResolveKey,
// Discriminator): the token must not have expired on the system clock, and
// its expiry must be known (the token's exp claim counts; see NewTokenKeyed).
func unexpiredNow(tok Token) error {
	if tok.ValidBeyond(time.Now(), 0) {
		return nil
	}
	if tok.ExpiresOn.IsZero() {
		return errors.New("the token has no known expiry (fail closed): set its expiry")
	}
	return fmt.Errorf("the token expired at %s", tok.ExpiresOn.UTC().Format(time.RFC3339))
}

func isCtxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
