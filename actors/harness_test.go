package actors

import (
	"database/sql/driver"
	"time"

	"github.com/idpool/idpool/messages"
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
	evicted   []any               // Evicts answered, by the name given to evict
	// evictNames names each Evict's Done channel.
	evictNames map[chan<- struct{}]any
	mints      int // mints in flight
	validates  []ConnID
	closes     []Effect
	wakes      []time.Time
	retires    []uint64
	drained    int
	nextRes    int
	// permit books under a global cap
	permitAsks, permitsHeld int
	// The manager's side, in the order the pool sent it: the sequence
	// numbers of the permit requests not yet answered and of the
	// withdrawals not yet answered (see answerWithdraw).
	reqSeq, wdSeq []uint64
	seq           uint64
	// fillReqs: the sequence numbers of the requests made for a MinSize
	// fill, which the manager may refuse at the cap (see refuseFill).
	fillReqs map[uint64]bool
	// fifo: assert that grants follow arrival order (valid when no health
	// or token check can hold a waiter's turn).
	fifo bool
	// replies holds each acquire's reply channel (see replyFor).
	replies map[uint64]chan messages.Reply
	// retireAsked: the pool asked to retire and no acquire came since.
	retireAsked bool
	// ref, when set, is the reference pool of newDifferentialHarness.
	ref *Pool
	// hits counts the steps the differential harness's pool took through
	// StepHit or StepHitRelease.
	hits int
}

// harnessT is what both *testing.T and *rapid.T offer.
type harnessT interface {
	require.TestingT
	Helper()
	Fatalf(format string, args ...any)
}

func newHarness(t harnessT, cfg PoolConfig) *harness {
	h := buildHarness(t, cfg)
	h.step(Start{})
	return h
}

// newDifferentialHarness is newHarness with a reference pool beside the
// pool under test: the same configuration with its fast paths off
// (poolCfg.noFastPaths). step feeds both every input and requires the same
// effects and the same Stats after each.
func newDifferentialHarness(t harnessT, cfg PoolConfig) *harness {
	h := buildHarness(t, cfg)
	h.ref = New(h.p.Config())
	h.ref.cfg.noFastPaths = true
	h.step(Start{})
	return h
}

func buildHarness(t harnessT, cfg PoolConfig) *harness {
	if cfg.Key == "" {
		cfg.Key = tokens.NewKey("srv", "test:id")
	}
	return &harness{t: t, p: New(cfg), now: time.Unix(1_700_000_000, 0),
		answers: map[uint64][]Effect{}, granted: map[uint64]ConnID{}, holder: map[ConnID]uint64{}}
}

// step feeds in to the pool the way the actor does (Step, Ready, carry out,
// Advance) and checks everything after.
func (h *harness) step(in Input) {
	h.t.Helper()
	if _, ok := in.(Acquire); ok {
		h.retireAsked = false
	}
	effs, hit := h.stepHit(in)
	if !hit {
		h.p.Step(h.now, in)
		effs = h.p.Ready()
	}
	if h.ref != nil {
		h.ref.Step(h.now, in)
		require.Equal(h.t, h.ref.Ready(), effs, "effects of %T differ from the reference pool's", in)
		h.ref.Advance()
	}
	h.apply(effs)
	if !hit {
		h.p.Advance()
	}
	if h.ref != nil {
		require.Equal(h.t, h.ref.Stats(), h.p.Stats(), "Stats after %T differ from the reference pool's", in)
	}
}

// stepHit feeds an Acquire or a Release of the differential harness to the
// pool under test through StepHit or StepHitRelease, as the actor does,
// and reports whether the hit path took it, with the effects Step would
// have handed out for it: the grant, or none.
func (h *harness) stepHit(in Input) ([]Effect, bool) {
	if h.ref == nil {
		return nil, false
	}
	switch in := in.(type) {
	case Acquire:
		if g, ok := h.p.StepHit(h.now, in); ok {
			h.hits++
			return []Effect{{Kind: EffGrant, ReplyTo: in.ReplyTo, AcquireID: in.ID, Conn: g.Conn, Resource: g.Resource}}, true
		}
	case Release:
		if h.p.StepHitRelease(h.now, in) {
			h.hits++
			return nil, true
		}
	}
	return nil, false
}

// replyFor returns the reply channel of acquire id: one per acquire, so the
// harness can check that an answer carries its acquire's own channel.
func (h *harness) replyFor(id uint64) chan messages.Reply {
	if h.replies == nil {
		h.replies = map[uint64]chan messages.Reply{}
	}
	ch, ok := h.replies[id]
	if !ok {
		ch = make(chan messages.Reply)
		h.replies[id] = ch
	}
	return ch
}

func (h *harness) apply(effs []Effect) {
	h.t.Helper()
	for _, e := range effs {
		switch e.Kind {
		case EffGrant, EffFail, EffCancelled:
			h.answers[e.AcquireID] = append(h.answers[e.AcquireID], e)
			require.Len(h.t, h.answers[e.AcquireID], 1, "acquire %d answered twice", e.AcquireID)
			require.True(h.t, h.replyFor(e.AcquireID) == e.ReplyTo, "reply handle of acquire %d not passed through", e.AcquireID)
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
			h.evicted = append(h.evicted, h.evictNames[e.Evicted])
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
			require.False(h.t, h.retireAsked, "retirement asked twice with no acquire between")
			h.retireAsked = true
			require.True(h.t, h.p.quiet() && h.p.closesInFlight == 0 && len(h.p.conns) == 0,
				"retirement asked by a pool not quiet and empty: %+v", h.p.Stats())
		case EffRequestPermit:
			h.permitAsks++
			h.seq++
			h.reqSeq = append(h.reqSeq, h.seq)
			if e.Fill {
				if h.fillReqs == nil {
					h.fillReqs = map[uint64]bool{}
				}
				h.fillReqs[h.seq] = true
			}
		case EffWithdrawPermit:
			h.seq++
			h.wdSeq = append(h.wdSeq, h.seq)
		case EffReturnPermit:
			h.permitsHeld--
		case EffDrained:
			h.drained++
		}
	}
	require.NoError(h.t, h.p.CheckInvariants())
	h.checkRefill()
	if h.p.cfg.NeedsPermit {
		require.Equal(h.t, len(h.p.conns)+h.p.closesInFlight+h.p.dialing+h.p.awaitingToken, h.permitsHeld, "every open, closing or dialing connection holds exactly one permit")
		require.Equal(h.t, h.p.awaitingPermit, h.permitAsks, "permit requests outstanding")
		late := 0
		if h.p.rare != nil {
			late = h.p.rare.withdrawnLate
		}
		require.Equal(h.t, len(h.wdSeq), h.p.withdrawing()+late, "withdrawals outstanding")
		require.LessOrEqual(h.t, h.p.withdrawing(), h.p.awaitingPermit, "only requests awaiting an answer are being withdrawn")
	}
}

// checkRefill: a pool below MinSize, neither closing nor retiring, is
// refilling, or waits for a hold (fillHeld) or a blocking period to pass
// with a Tick asked for by then: the driver Ticks it only when asked, so a
// hold with no Tick to end it kept the pool below MinSize for good.
func (h *harness) checkRefill() {
	h.t.Helper()
	p := h.p
	if p.closing || p.retireDue || p.size() >= p.cfg.MinSize {
		return
	}
	var resume time.Time
	if p.fillHeld {
		resume = p.rare.fillRetryAt
	}
	if until := p.blockedUntil(); h.now.Before(until) && until.After(resume) {
		resume = until
	}
	require.False(h.t, resume.IsZero(), "below MinSize (%d of %d), neither held nor blocked, and not refilling", p.size(), p.cfg.MinSize)
	if resume.After(h.now) {
		require.False(h.t, p.wakeAt.IsZero() || p.wakeAt.After(resume),
			"below MinSize until %s, but the next Tick is at %s", resume, p.wakeAt)
	}
}

// checkGrantedToken: no connection is granted whose token has expired, or
// whose expiry is unknown, at the moment of the grant.
func (h *harness) checkGrantedToken(id ConnID) {
	h.t.Helper()
	if !h.p.cfg.UsesToken {
		return
	}
	c := h.p.connOf(id)
	require.NotNil(h.t, c, "granted conn %d unknown to the pool", id)
	if c.token.ExpiresOn.IsZero() || !h.now.Before(c.token.ExpiresOn) {
		h.t.Fatalf("expired_token_granted: conn %d granted at %s with %v", id, h.now.Format(time.RFC3339), c.token)
	}
}

// grantPermit grants the oldest permit request outstanding. The manager
// reads the pool's messages in order, so it first answers the withdrawals
// sent before that request (which found nothing left to withdraw).
func (h *harness) grantPermit() {
	h.t.Helper()
	require.Positive(h.t, h.permitAsks, "no permit request outstanding")
	for len(h.wdSeq) > 0 && h.wdSeq[0] < h.reqSeq[0] {
		h.answerWithdraw()
	}
	h.reqSeq = h.reqSeq[1:]
	h.permitAsks--
	h.permitsHeld++
	h.step(PermitGranted{})
}

// refuseFill refuses the oldest permit request, a MinSize fill's, as the
// manager does at the global cap, and reports whether it was one.
func (h *harness) refuseFill() bool {
	h.t.Helper()
	for len(h.wdSeq) > 0 && len(h.reqSeq) > 0 && h.wdSeq[0] < h.reqSeq[0] {
		h.answerWithdraw()
	}
	if len(h.reqSeq) == 0 || !h.fillReqs[h.reqSeq[0]] {
		return false
	}
	delete(h.fillReqs, h.reqSeq[0])
	h.reqSeq = h.reqSeq[1:]
	h.permitAsks--
	h.step(PermitRefused{})
	return true
}

// answerWithdraw answers the oldest withdrawal as the manager does: it
// removes the youngest request of the pool it has received (sent before the
// withdrawal) and not answered, if any.
func (h *harness) answerWithdraw() {
	h.t.Helper()
	require.NotEmpty(h.t, h.wdSeq, "no withdrawal outstanding")
	w := h.wdSeq[0]
	h.wdSeq = h.wdSeq[1:]
	for i := len(h.reqSeq) - 1; i >= 0; i-- {
		if h.reqSeq[i] < w {
			h.reqSeq = append(h.reqSeq[:i], h.reqSeq[i+1:]...)
			h.permitAsks--
			h.step(PermitWithdrawn{Removed: true})
			return
		}
	}
	h.step(PermitWithdrawn{Removed: false})
}

func (h *harness) steal() { h.step(StealIdle{}) }

func (h *harness) advance(d time.Duration) { h.now = h.now.Add(d) }

// acquire starts an acquire and returns its id.
func (h *harness) acquire() uint64 { return h.acquireWithin(0) }

// acquireWithin starts an acquire the pool itself fails after timeout.
func (h *harness) acquireWithin(timeout time.Duration) uint64 {
	h.nextAcq++
	id := h.nextAcq
	h.step(Acquire{ID: id, ReplyTo: h.replyFor(id), Timeout: timeout})
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
	h.step(Release{Conn: c, Broken: broken})
}

func (h *harness) cancel(id uint64) { h.step(Cancel{ID: id, Timeout: true}) }

// finishDial completes the oldest dial in flight.
func (h *harness) finishDial(err error) {
	h.t.Helper()
	require.NotEmpty(h.t, h.dials, "no dial in flight")
	tok, epoch := h.dials[0], h.dialEpoch[0]
	h.dials, h.dialEpoch = h.dials[1:], h.dialEpoch[1:]
	if err != nil {
		h.step(DialDone{Token: tok, Err: err, Epoch: epoch})
		return
	}
	h.nextRes++
	h.step(DialDone{Conn: fakeConn(h.nextRes), Token: tok, Epoch: epoch})
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
	h.step(MintDone{Token: tok, Err: err})
}

func (h *harness) finishValidate(ok bool) {
	h.t.Helper()
	require.NotEmpty(h.t, h.validates)
	c := h.validates[0]
	h.validates = h.validates[1:]
	h.step(ValidateDone{Conn: c, OK: ok})
}

func (h *harness) finishCloses() {
	for len(h.closes) > 0 {
		c := h.closes[0]
		h.closes = h.closes[1:]
		h.step(CloseDone{Conn: c.Conn})
	}
}

func (h *harness) closeReasons() map[CloseReason]int {
	m := map[CloseReason]int{}
	for _, c := range h.closes {
		m[c.Reason]++
	}
	return m
}

func (h *harness) tick() { h.step(Tick{}) }

// evict steps an Evict whose answer is recorded in h.evicted as name.
func (h *harness) evict(name any) {
	if h.evictNames == nil {
		h.evictNames = map[chan<- struct{}]any{}
	}
	done := make(chan struct{}, 1)
	h.evictNames[done] = name
	h.step(Evict{Done: done})
}

// fakeConn is the harness's connection: the pool only holds it and hands it
// back, so it needs no behaviour.
type fakeConn int

func (fakeConn) Prepare(string) (driver.Stmt, error) { return nil, driver.ErrSkip }
func (fakeConn) Close() error                        { return nil }
func (fakeConn) Begin() (driver.Tx, error)           { return nil, driver.ErrSkip }
