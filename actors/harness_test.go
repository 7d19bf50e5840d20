package actors

import (
	"time"

	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/require"
)

// harness drives a Pool the way the actor does, but synchronously: it
// collects the effects, remembers what is in flight (dials, mints, checks,
// closes) and lets a test complete those when it chooses.
type harness struct {
	t   harnessT
	p   *Pool
	now time.Time

	nextAcq   uint64
	answers   map[uint64][]Effect // every answer per acquire id
	granted   map[uint64]ConnID   // acquire id -> conn it holds
	holder    map[ConnID]uint64   // conn -> acquire id holding it
	dials     []tokens.Token      // dials in flight, oldest first
	dialEpoch []uint64            // the eviction epoch each dial started in
	evicted   []any               // Evicts answered
	mints     int                 // mints in flight
	validates []ConnID
	closes    []Effect
	wakes     []time.Time
	retires   []uint64
	drained   int
	nextRes   int
	// permit books under a global cap
	permitAsks, permitsHeld int
	// fifo: assert that grants follow arrival order (valid when no health
	// or token check can hold a waiter's turn).
	fifo bool
}

// harnessT is what both *testing.T and *rapid.T offer.
type harnessT interface {
	require.TestingT
	Helper()
	Fatalf(format string, args ...any)
}

func newHarness(t harnessT, cfg PoolConfig) *harness {
	if cfg.Key == "" {
		cfg.Key = tokens.NewKey("srv", "test:id")
	}
	h := &harness{t: t, p: New(cfg), now: time.Unix(1_700_000_000, 0),
		answers: map[uint64][]Effect{}, granted: map[uint64]ConnID{}, holder: map[ConnID]uint64{}}
	h.apply(h.p.Start(h.now))
	return h
}

func (h *harness) apply(effs []Effect) {
	h.t.Helper()
	for _, e := range effs {
		switch e.Kind {
		case EffGrant, EffFail, EffCancelled:
			h.answers[e.AcquireID] = append(h.answers[e.AcquireID], e)
			require.Len(h.t, h.answers[e.AcquireID], 1, "acquire %d answered twice", e.AcquireID)
			require.Equal(h.t, e.AcquireID, e.ReplyTo, "reply handle not passed through")
			if e.Kind == EffGrant {
				if other, held := h.holder[e.Conn]; held {
					h.t.Fatalf("double lease: conn %d granted to %d while held by %d", e.Conn, e.AcquireID, other)
				}
				if h.fifo {
					for older := uint64(1); older < e.AcquireID; older++ {
						if len(h.answers[older]) == 0 {
							h.t.Fatalf("fifo violation: acquire %d granted while older %d still waits", e.AcquireID, older)
						}
					}
				}
				h.granted[e.AcquireID] = e.Conn
				h.holder[e.Conn] = e.AcquireID
				h.checkGrantedToken(e.Conn)
			}
		case EffDial:
			h.dials = append(h.dials, e.Token)
			h.dialEpoch = append(h.dialEpoch, h.p.Epoch())
		case EffEvicted:
			h.evicted = append(h.evicted, e.ReplyTo)
		case EffMint:
			h.mints++
			require.Equal(h.t, 1, h.mints, "more than one mint in flight")
		case EffValidate:
			h.validates = append(h.validates, e.Conn)
		case EffClose:
			if _, held := h.holder[e.Conn]; held {
				h.t.Fatalf("conn %d closed while leased", e.Conn)
			}
			h.closes = append(h.closes, e)
		case EffWake:
			h.wakes = append(h.wakes, e.At)
		case EffRetire:
			h.retires = append(h.retires, e.Seen)
		case EffRequestPermit:
			h.permitAsks++
		case EffReturnPermit:
			h.permitsHeld--
		case EffDrained:
			h.drained++
		}
	}
	require.NoError(h.t, h.p.CheckInvariants())
	if h.p.cfg.NeedsPermit {
		require.Equal(h.t, len(h.p.conns)+h.p.closesInFlight+h.p.dialing+h.p.awaitingToken, h.permitsHeld, "every open, closing or dialing connection holds exactly one permit")
		require.Equal(h.t, h.p.awaitingPermit, h.permitAsks, "permit requests outstanding")
	}
}

// checkGrantedToken: no connection is granted whose token has expired, or
// whose expiry is unknown, at the moment of the grant.
func (h *harness) checkGrantedToken(id ConnID) {
	h.t.Helper()
	if !h.p.cfg.UsesToken {
		return
	}
	c := h.p.conns[id]
	require.NotNil(h.t, c, "granted conn %d unknown to the pool", id)
	if c.token.ExpiresOn.IsZero() || !h.now.Before(c.token.ExpiresOn) {
		h.t.Fatalf("expired_token_granted: conn %d granted at %s with %v", id, h.now.Format(time.RFC3339), c.token)
	}
}

func (h *harness) grantPermit() {
	h.t.Helper()
	require.Positive(h.t, h.permitAsks, "no permit request outstanding")
	h.permitAsks--
	h.permitsHeld++
	h.apply(h.p.PermitGranted(h.now))
}

func (h *harness) steal() { h.apply(h.p.StealIdle(h.now)) }

func (h *harness) advance(d time.Duration) { h.now = h.now.Add(d) }

// acquire starts an acquire and returns its id.
func (h *harness) acquire() uint64 { return h.acquireWithin(0) }

// acquireWithin starts an acquire the pool itself fails after timeout.
func (h *harness) acquireWithin(timeout time.Duration) uint64 {
	h.nextAcq++
	id := h.nextAcq
	h.apply(h.p.Acquire(h.now, id, id, timeout))
	return id
}

func (h *harness) answer(id uint64) (Effect, bool) {
	a := h.answers[id]
	if len(a) == 0 {
		return Effect{}, false
	}
	return a[0], true
}

// mustGrant returns the conn granted to acquire id.
func (h *harness) mustGrant(id uint64) ConnID {
	h.t.Helper()
	e, ok := h.answer(id)
	require.True(h.t, ok, "acquire %d unanswered", id)
	require.Equal(h.t, EffGrant, e.Kind, "acquire %d: %v", id, e.Err)
	return e.Conn
}

func (h *harness) release(id uint64, broken bool) {
	h.t.Helper()
	c, ok := h.granted[id]
	require.True(h.t, ok, "acquire %d holds nothing", id)
	delete(h.granted, id)
	delete(h.holder, c)
	h.apply(h.p.Release(h.now, c, broken))
}

func (h *harness) cancel(id uint64) { h.apply(h.p.Cancel(h.now, id, true)) }

// finishDial completes the oldest dial in flight.
func (h *harness) finishDial(err error) {
	h.t.Helper()
	require.NotEmpty(h.t, h.dials, "no dial in flight")
	tok, epoch := h.dials[0], h.dialEpoch[0]
	h.dials, h.dialEpoch = h.dials[1:], h.dialEpoch[1:]
	if err != nil {
		h.apply(h.p.DialDoneEpoch(h.now, epoch, nil, tok, err))
		return
	}
	h.nextRes++
	h.apply(h.p.DialDoneEpoch(h.now, epoch, h.nextRes, tok, nil))
}

func (h *harness) finishDials() {
	for len(h.dials) > 0 {
		h.finishDial(nil)
	}
}

func (h *harness) finishMint(tok tokens.Token, err error) {
	h.t.Helper()
	require.Equal(h.t, 1, h.mints, "no mint in flight")
	h.mints--
	h.apply(h.p.MintDone(h.now, tok, err))
}

func (h *harness) finishValidate(ok bool) {
	h.t.Helper()
	require.NotEmpty(h.t, h.validates)
	c := h.validates[0]
	h.validates = h.validates[1:]
	h.apply(h.p.ValidateDone(h.now, c, ok))
}

func (h *harness) finishCloses() {
	for len(h.closes) > 0 {
		c := h.closes[0]
		h.closes = h.closes[1:]
		h.apply(h.p.CloseDone(h.now, c.Conn))
	}
}

func (h *harness) closeReasons() map[CloseReason]int {
	m := map[CloseReason]int{}
	for _, c := range h.closes {
		m[c.Reason]++
	}
	return m
}

func (h *harness) tick() { h.apply(h.p.Tick(h.now)) }
