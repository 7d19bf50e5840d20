package actors

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// TestNeedsWakeBeforeAgreesWithConnWake checks the park's shortcut against
// what it stands for, connWake(c) nonzero and before t, over random
// connections and wakes: lifetimes on or off, tokens with and without a
// monotonic reading (a token's ExpiresOn is usually wall time only; the
// tests' often carries one), idle timeouts on or off, pools above and at
// MinSize, and times on both sides of each boundary, the boundary itself
// among them.
func TestNeedsWakeBeforeAgreesWithConnWake(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Now() // carries a monotonic reading, as the actor's clock does
	pick := func(choices ...time.Duration) time.Duration { return choices[r.IntN(len(choices))] }
	offset := func() time.Duration {
		return pick(-time.Hour, -time.Minute, -time.Nanosecond, 0, time.Nanosecond, time.Second, time.Minute, time.Hour)
	}
	for i := range 20000 {
		p := New(PoolConfig{
			Key:            "k",
			MaxSize:        4,
			MinSize:        r.IntN(3),
			IdleTimeout:    pick(0, time.Minute, 5*time.Minute),
			TokenThreshold: pick(0, time.Second, 5*time.Minute),
			UsesToken:      r.IntN(2) == 0,
		})
		for j := range 1 + r.IntN(3) {
			p.conns = append(p.conns, &conn{id: ConnID(j + 1)})
		}
		c := &conn{idleSince: base.Add(offset())}
		if r.IntN(2) == 0 {
			c.deadline = base.Add(offset())
		}
		switch r.IntN(3) {
		case 0: // unknown expiry
		case 1:
			c.token = tokens.Token{ExpiresOn: base.Add(offset())}
		case 2:
			c.token = tokens.Token{ExpiresOn: base.Add(offset()).Round(0)} // wall time only
		}
		// t is one of the times the wake could be, or next to one.
		var wake time.Time
		switch r.IntN(4) {
		case 0:
			wake = c.idleSince.Add(p.cfg.IdleTimeout)
		case 1:
			wake = c.token.ExpiresOn.Add(-p.cfg.TokenThreshold)
		case 2:
			wake = c.deadline
		default:
			wake = base
		}
		if wake.IsZero() {
			wake = base
		}
		wake = wake.Add(pick(-time.Nanosecond, 0, time.Nanosecond, time.Minute))
		at := p.connWake(c)
		want := !at.IsZero() && at.Before(wake)
		if got := p.needsWakeBefore(c, wake); got != want {
			t.Fatalf("case %d: needsWakeBefore = %v, connWake %v before %v = %v (conn %+v, cfg idle %v threshold %v token %v min %d open %d)",
				i, got, at, wake, want, c, p.cfg.IdleTimeout, p.cfg.TokenThreshold, p.cfg.UsesToken, p.cfg.MinSize, len(p.conns))
		}
	}
}

// TestParkWakesForAnIdleTimeoutSoonerThanTheWakeDue drives the shortcut
// through Step: the retirement wake (an hour) is already due when the first
// connection parks, and its idle timeout (a minute) is sooner, so the park
// moves the wake; the second park's idle timeout comes after the wake now
// due, so it asks for none; the Tick at that wake closes the first.
func TestParkWakesForAnIdleTimeoutSoonerThanTheWakeDue(t *testing.T) {
	h := newHarness(t, PoolConfig{MaxSize: 2, IdleTimeout: time.Minute, RetireAfter: time.Hour})
	a, b := h.acquire(), h.acquire()
	h.finishDials()
	h.release(a, false)
	require.NotEmpty(t, h.wakes)
	assert.Equal(t, h.now.Add(time.Minute), h.wakes[len(h.wakes)-1], "a's idle timeout is sooner than the retirement wake")
	wakes := len(h.wakes)
	h.advance(10 * time.Second)
	h.release(b, false)
	assert.Len(t, h.wakes, wakes, "b's idle timeout is after the wake already due: no new wake")
	h.advance(50 * time.Second)
	h.tick()
	assert.Equal(t, 1, h.closeReasons()[ReasonIdleTimeout], "a closed at its idle timeout, b kept")
}

// TestTokenGoodAtIsValidBeyond checks the grant's token test against what
// it stands for, tokens.Token.ValidBeyond, over random times on both sides
// of the threshold's boundary and on it: now with and without a monotonic
// reading, expiries with one, without one (as a token source gives) and
// unknown, and expiries centuries away (where Sub saturates).
func TestTokenGoodAtIsValidBeyond(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	base := time.Now()
	pick := func(choices ...time.Duration) time.Duration { return choices[r.IntN(len(choices))] }
	far := []time.Time{time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), time.Unix(1<<40, 0)}
	for i := range 20000 {
		threshold := pick(0, time.Nanosecond, time.Second, 5*time.Minute)
		p := New(PoolConfig{Key: "k", UsesToken: true, TokenThreshold: threshold})
		now := base.Add(pick(0, time.Minute, time.Hour))
		if r.IntN(2) == 0 {
			now = now.Round(0)
		}
		var tok tokens.Token
		switch r.IntN(5) {
		case 0: // unknown expiry
		case 1:
			tok.ExpiresOn = far[r.IntN(len(far))]
		default:
			tok.ExpiresOn = now.Add(threshold).Add(pick(-time.Hour, -time.Second, -time.Nanosecond, 0, time.Nanosecond, time.Second, time.Hour))
			if r.IntN(2) == 0 {
				tok.ExpiresOn = tok.ExpiresOn.Round(0)
			}
		}
		if got, want := p.tokenGoodAt(tok, now), tok.ValidBeyond(now, threshold); got != want {
			t.Fatalf("case %d: tokenGoodAt = %v, ValidBeyond = %v (expiry %v, now %v, threshold %v)", i, got, want, tok.ExpiresOn, now, threshold)
		}
	}
}
