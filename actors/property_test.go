package actors

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// TestPropertyRandomSequences drives the pool with random interleavings of
// acquires, cancels, releases, new credentials (token pools) and the
// completions of whatever is in flight, with time jumping forward. After every step the harness checks: no
// connection leased twice, none closed while leased, at most one mint in
// flight, each acquire answered at most once, and Pool.CheckInvariants (size
// never above MaxSize, no idle connection while a waiter is unserved, and
// more). Without health and token checks, grants must also be in strict
// arrival order. At the end the pool is closed and everything settled: every
// acquire must have had exactly one answer and the pool must drain.
func TestPropertyRandomSequences(t *testing.T) {
	for _, variant := range propertyVariants {
		t.Run(variant.name, func(t *testing.T) {
			rapid.Check(t, func(rt *rapid.T) {
				runRandomSequence(rt, drawPropertyConfig(rt, variant.cfg), variant.fifo)
			})
		})
	}
}

// TestFastPathsDifferential: the shortcuts of the hit path (see
// nothingToServe, StepHit and StepHitRelease) change nothing. The random
// sequences of TestPropertyRandomSequences, plus a variant that hits often,
// drive a pool with its fast paths, stepped as the actor steps it (each
// acquire and release offered to StepHit or StepHitRelease first), and a
// reference pool without them, stepped only through Step, side by side;
// after every step both must have decided the same effects and report the
// same Stats. The "hits" variant must have taken the hit entry points, or
// they would be checked nowhere; it takes them dozens of times in each run
// of 100 sequences (34 at the least in 30 runs). Other variants need not:
// under "permits+tokens" a plain hit is rare (none in 6 of 30 runs), as
// connections wait for permits and tokens near their threshold.
func TestFastPathsDifferential(t *testing.T) {
	variants := append(propertyVariants[:len(propertyVariants):len(propertyVariants)], propertyVariant{
		"hits", PoolConfig{MaxSize: 2, RetireAfter: time.Minute}, true,
	})
	for _, variant := range variants {
		t.Run(variant.name, func(t *testing.T) {
			hits := 0
			rapid.Check(t, func(rt *rapid.T) {
				cfg := drawPropertyConfig(rt, variant.cfg)
				h := newDifferentialHarness(rt, cfg)
				runRandomSequenceOn(rt, h, cfg, variant.fifo)
				hits += h.hits
			})
			if variant.name == "hits" && hits == 0 {
				t.Error("no step took StepHit or StepHitRelease")
			}
		})
	}
}

type propertyVariant struct {
	name string
	cfg  PoolConfig
	fifo bool
}

// propertyVariants are the configurations the random sequences run with.
var propertyVariants = []propertyVariant{
	{"plain", PoolConfig{MinSize: 1, MaxSize: 3, MaxWaiters: 6, IdleTimeout: 30 * time.Second, MaxLifetime: time.Minute, LifetimeJitter: 5 * time.Second}, true},
	{"checks", PoolConfig{MaxSize: 3, HealthCheckAfter: 2 * time.Second, IdleTimeout: 20 * time.Second, MaxLifetime: 90 * time.Second, RetireAfter: time.Minute}, false},
	{"permits", PoolConfig{MinSize: 1, MaxSize: 3, NeedsPermit: true, HealthCheckAfter: 3 * time.Second, IdleTimeout: 20 * time.Second}, false},
	{"permits+tokens", PoolConfig{MaxSize: 3, NeedsPermit: true, UsesToken: true, TokenThreshold: 10 * time.Second, MaxLifetime: time.Minute}, false},
	{"tokens", PoolConfig{MinSize: 1, MaxSize: 4, UsesToken: true, RefreshAhead: true, TokenThreshold: 10 * time.Second, HealthCheckAfter: 5 * time.Second, MaxLifetime: 2 * time.Minute}, false},
	// Retirement of pools that keep a MinSize, whose fills fail (with and
	// without a blocking period) or are refused at the cap, and whose
	// failed dials and mints ask to retire (see maybeRetire).
	{"retire+fill", PoolConfig{MinSize: 2, MaxSize: 3, NeedsPermit: true, IdleTimeout: 20 * time.Second, RetireAfter: 30 * time.Second}, true},
	{"retire+tokens", PoolConfig{MinSize: 1, MaxSize: 3, UsesToken: true, TokenThreshold: 10 * time.Second, RetireAfter: 30 * time.Second}, false},
}

// drawPropertyConfig completes a variant's configuration with a drawn seed
// and, half the time, dial backoff.
func drawPropertyConfig(rt *rapid.T, cfg PoolConfig) PoolConfig {
	cfg.Seed = rapid.Uint64().Draw(rt, "seed")
	if rapid.Bool().Draw(rt, "backoff") {
		cfg.DialBackoff = time.Second
		cfg.DialBackoffMax = 8 * time.Second
	}
	return cfg
}

func runRandomSequence(rt *rapid.T, cfg PoolConfig, fifo bool) {
	runRandomSequenceOn(rt, newHarness(rt, cfg), cfg, fifo)
}

func runRandomSequenceOn(rt *rapid.T, h *harness, cfg PoolConfig, fifo bool) {
	h.fifo = fifo
	tokenN := 0
	newToken := func() tokens.Token {
		tokenN++
		return tokens.Token{Value: fmt.Sprint("tok", tokenN), ExpiresOn: h.now.Add(time.Duration(rapid.IntRange(5, 120).Draw(rt, "tokenLife")) * time.Second)}
	}
	steps := rapid.IntRange(1, 200).Draw(rt, "steps")
	for range steps {
		if h.permitAsks > 0 && rapid.IntRange(0, 2).Draw(rt, "grantPermit") == 0 {
			h.grantPermit()
		}
		if h.permitAsks > 0 && rapid.IntRange(0, 5).Draw(rt, "refuseFill") == 0 {
			h.refuseFill() // at the cap: the fill is held (fillHeld)
		}
		if cfg.NeedsPermit && rapid.IntRange(0, 15).Draw(rt, "steal") == 0 {
			h.steal()
		}
		if cfg.NeedsPermit && rapid.IntRange(0, 15).Draw(rt, "stealCancel") == 0 {
			h.step(StealCancelled{})
		}
		if len(h.wdSeq) > 0 && rapid.IntRange(0, 2).Draw(rt, "answerWithdraw") == 0 {
			h.answerWithdraw()
		}
		if cfg.UsesToken && rapid.IntRange(0, 5).Draw(rt, "newCredential") == 0 {
			h.step(NewCredential{}) // a failed mint may then be retried (retryStaleMint)
		}
		switch rapid.IntRange(0, 9).Draw(rt, "op") {
		case 0:
			h.acquire()
		case 1:
			h.acquireWithin(time.Duration(rapid.IntRange(1, 30_000).Draw(rt, "timeoutMs")) * time.Millisecond)
		case 2:
			if h.nextAcq > 0 {
				h.cancel(rapid.Uint64Range(1, h.nextAcq).Draw(rt, "cancel"))
			}
		case 3, 4:
			if held := h.heldIDs(); len(held) > 0 {
				id := held[rapid.IntRange(0, len(held)-1).Draw(rt, "release")]
				h.release(id, rapid.IntRange(0, 4).Draw(rt, "broken") == 0)
			}
		case 5:
			if len(h.dials) > 0 {
				var err error
				if rapid.IntRange(0, 3).Draw(rt, "dialFails") == 0 {
					err = errors.New("dial failed")
				}
				h.finishDial(err)
			}
		case 6:
			if h.mints > 0 {
				switch rapid.IntRange(0, 3).Draw(rt, "mint") {
				case 0:
					h.finishMint(tokens.Token{}, errors.New("mint failed"))
				case 1:
					h.finishMint(tokens.Token{Value: h.p.latest.Value, ExpiresOn: h.now.Add(time.Minute)}, nil)
				default:
					h.finishMint(newToken(), nil)
				}
			}
		case 7:
			if len(h.validates) > 0 {
				h.finishValidate(rapid.Bool().Draw(rt, "healthy"))
			}
		case 8:
			h.finishCloses()
		case 9:
			h.advance(time.Duration(rapid.IntRange(0, 40_000).Draw(rt, "ms")) * time.Millisecond)
			h.tick()
		}
	}
	// Close and settle everything still in flight.
	h.step(Close{})
	for i := 0; h.drained == 0; i++ {
		require.Less(rt, i, 1000, "pool never drained")
		switch {
		case len(h.heldIDs()) > 0:
			h.release(h.heldIDs()[0], false)
		case h.permitAsks > 0:
			h.grantPermit()
		case len(h.wdSeq) > 0:
			h.answerWithdraw()
		case len(h.dials) > 0:
			h.finishDial(nil)
		case h.mints > 0:
			h.finishMint(newToken(), nil)
		case len(h.validates) > 0:
			h.finishValidate(true)
		case len(h.closes) > 0:
			h.finishCloses()
		default:
			rt.Fatalf("not drained and nothing in flight: %+v", h.p.Stats())
		}
	}
	if cfg.NeedsPermit {
		require.Zero(rt, h.permitsHeld, "every permit returned after drain")
	}
	for id := uint64(1); id <= h.nextAcq; id++ {
		require.Len(rt, h.answers[id], 1, "acquire %d must get exactly one answer", id)
	}
}

func (h *harness) heldIDs() []uint64 {
	ids := make([]uint64, 0, len(h.granted))
	for id := range h.granted {
		ids = append(ids, id)
	}
	// Sorted so that a draw picks the same one on replay.
	for i := 1; i < len(ids); i++ {
		for j := i; j > 0 && ids[j] < ids[j-1]; j-- {
			ids[j], ids[j-1] = ids[j-1], ids[j]
		}
	}
	return ids
}
