package virtual

import (
	"database/sql/driver"
	"fmt"
	"testing"
	"time"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/manager/decide"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The retirement handshake, model-checked: one caller sends an acquire to an
// identity whose idle pool is asking to retire, and every interleaving of the
// caller's steps with the manager's and the pools' is run, with the real
// decision code (actors.Pool, decide.Manager). Each step below is one atomic
// action of the code that runs:
//
//   - caller (manager.Manager.send): read the route table; add one to the
//     route's sent; read closed, then send to the pool, or take the count back
//     and send to the manager;
//   - manager actor: handle one message of its mailbox, except that its
//     handling of a retirement is split where a caller can run in between:
//     after it closes the route and before it reads sent;
//   - each pool actor: handle one message of its mailbox (FIFO).
//
// In every final state the caller's acquire must have been granted exactly
// once, by a pool that was not retired; no message may have reached a
// stopped pool; no route may lead to a stopped pool.

// hsVariant is a protocol to check: the real one, or one with a bug that
// the check must catch.
type hsVariant struct {
	// skipSentCheck: the manager agrees to retire on the pool's word (Seen)
	// without reading sent.
	skipSentCheck bool
	// closedFirst: the caller reads closed before it counts itself in sent.
	closedFirst bool
}

type hsMsgKind uint8

const (
	hsAcquire hsMsgKind = iota
	hsPoolInput
	hsRetireRequest
	hsDrained
)

type hsMsg struct {
	kind hsMsgKind
	in   actors.Input
	pool *hsPool
	seen uint64
}

type hsRoute struct {
	pool   *hsPool
	sent   uint64
	closed bool
}

type hsPool struct {
	id      decide.PoolID
	sm      *actors.Pool
	mailbox []hsMsg
	route   *hsRoute
	stopped bool
	retired bool
	conns   int
}

// hsWorld is one run of the system, replayed from scratch for each schedule.
type hsWorld struct {
	v       hsVariant
	now     time.Time
	mgr     *decide.Manager
	mailbox []hsMsg // the manager's
	pools   map[decide.PoolID]*hsPool
	table   map[string]*hsRoute // published routes
	// caller
	pc      int
	rt      *hsRoute
	answers []string
	// managerMid: the manager has closed a route and not yet read sent.
	managerMid *hsPool
	// lastSeen is the Seen of the retirement request being handled.
	lastSeen   uint64
	violations []string
}

const hsDisc = "user"

const hsAcquireID = 7

func newHSWorld(t *testing.T, v hsVariant) *hsWorld {
	w := &hsWorld{v: v, now: time.Unix(1_700_000_000, 0), pools: map[decide.PoolID]*hsPool{}, table: map[string]*hsRoute{},
		mgr: decide.New(decide.Config{Server: "srv", Pool: actors.PoolConfig{MaxSize: 1, RetireAfter: time.Second}})}
	// Setup: an earlier acquire spawned the pool, was granted and released;
	// the pool has since been idle for RetireAfter, closed its connection
	// and asked to retire.
	w.mgrStep(decide.Acquire{Disc: hsDisc}, 1)
	p := w.pools[1]
	w.runPool(p) // Start
	w.runPool(p) // the first acquire: a dial
	w.runPool(p) // DialDone: granted
	w.poolStep(p, actors.Release{Conn: 1})
	w.now = w.now.Add(2 * time.Second)
	w.poolStep(p, actors.Tick{})
	w.runPool(p) // CloseDone
	require.Len(t, w.mailbox, 1, "the pool asked to retire")
	require.Empty(t, w.violations)
	w.answers = nil
	return w
}

// enabled lists the processes that can take a step: 0 is the caller, 1 the
// manager, 2+ the pools by id.
func (w *hsWorld) enabled() []int {
	var out []int
	if w.pc < 3 {
		out = append(out, 0)
	}
	if w.managerMid != nil || len(w.mailbox) > 0 {
		out = append(out, 1)
	}
	for id := decide.PoolID(1); int(id) <= len(w.pools); id++ {
		if len(w.pools[id].mailbox) > 0 {
			out = append(out, 1+int(id))
		}
	}
	return out
}

func (w *hsWorld) move(who int) {
	switch {
	case who == 0:
		w.callerStep()
	case who == 1:
		w.managerStep()
	default:
		w.runPool(w.pools[decide.PoolID(who-1)])
	}
}

func (w *hsWorld) callerStep() {
	acq := hsMsg{kind: hsAcquire}
	switch w.pc {
	case 0:
		w.rt = w.table[hsDisc]
		if w.rt == nil {
			w.mailbox = append(w.mailbox, acq)
			w.pc = 3
			return
		}
	case 1:
		if w.v.closedFirst {
			if w.rt.closed {
				w.mailbox = append(w.mailbox, acq)
				w.pc = 3
				return
			}
		} else {
			w.rt.sent++
		}
	case 2:
		if w.v.closedFirst {
			w.rt.sent++
			w.deliver(w.rt.pool, acq)
		} else if w.rt.closed {
			w.rt.sent--
			w.mailbox = append(w.mailbox, acq)
		} else {
			w.deliver(w.rt.pool, acq)
		}
	}
	w.pc++
}

func (w *hsWorld) deliver(p *hsPool, m hsMsg) {
	if p.stopped {
		w.violations = append(w.violations, fmt.Sprintf("message %d sent to stopped pool %d", m.kind, p.id))
		return
	}
	p.mailbox = append(p.mailbox, m)
}

func (w *hsWorld) managerStep() {
	if p := w.managerMid; p != nil {
		w.managerMid = nil
		sent := p.route.sent
		if w.v.skipSentCheck {
			sent = w.lastSeen
		}
		w.mgrStep(decide.RouteClosed{Pool: p.id, Sent: sent}, 0)
		return
	}
	m := w.mailbox[0]
	w.mailbox = w.mailbox[1:]
	switch m.kind {
	case hsAcquire:
		w.mgrStep(decide.Acquire{Disc: hsDisc}, hsAcquireID)
	case hsRetireRequest:
		w.lastSeen = m.seen
		w.mgrStep(decide.RetireRequest{Pool: m.pool.id, Seen: m.seen}, 0)
	case hsDrained:
		w.mgrStep(decide.Drained{Pool: m.pool.id, Seen: m.seen, Sent: m.pool.route.sent}, 0)
	}
}

// mgrStep runs one manager input and its effects; an EffCloseRoute pauses
// the manager (managerMid) until its next step reads sent.
func (w *hsWorld) mgrStep(in decide.Input, acquireID uint64) {
	w.mgr.Step(w.now, in)
	defer w.mgr.Advance()
	for _, e := range w.mgr.Ready() {
		p := w.pools[e.Pool]
		switch e.Kind {
		case decide.EffSpawn:
			p = &hsPool{id: e.Pool, sm: actors.New(e.Config)}
			p.route = &hsRoute{pool: p}
			w.pools[e.Pool] = p
			p.mailbox = append(p.mailbox, hsMsg{kind: hsPoolInput, in: actors.Start{}})
		case decide.EffPublish:
			w.table[e.Disc] = p.route
		case decide.EffForward:
			p.route.sent++
			w.deliver(p, hsMsg{kind: hsPoolInput, in: actors.Acquire{ID: acquireID}})
		case decide.EffCloseRoute:
			p.route.closed = true
			w.managerMid = p
		case decide.EffReopenRoute:
			p.route.closed = false
		case decide.EffWithdraw:
			p.route.closed = true
			if w.table[e.Disc] == p.route {
				delete(w.table, e.Disc)
			}
		case decide.EffClosePool:
			p.retired = e.Retire
			w.deliver(p, hsMsg{kind: hsPoolInput, in: actors.Close{}})
		case decide.EffStop:
			p.stopped = true
			if w.table[hsDisc] == p.route {
				w.violations = append(w.violations, fmt.Sprintf("route to stopped pool %d", p.id))
			}
		}
	}
}

func (w *hsWorld) runPool(p *hsPool) {
	m := p.mailbox[0]
	p.mailbox = p.mailbox[1:]
	in := m.in
	if m.kind == hsAcquire {
		in = actors.Acquire{ID: hsAcquireID}
	}
	if a, ok := in.(actors.Acquire); ok && p.retired && a.ID == hsAcquireID {
		w.violations = append(w.violations, fmt.Sprintf("acquire reached pool %d after its retirement was agreed", p.id))
	}
	w.poolStep(p, in)
}

func (w *hsWorld) poolStep(p *hsPool, in actors.Input) {
	p.sm.Step(w.now, in)
	defer p.sm.Advance()
	for _, e := range p.sm.Ready() {
		switch e.Kind {
		case actors.EffGrant:
			if e.AcquireID == hsAcquireID {
				w.answers = append(w.answers, fmt.Sprintf("granted by pool %d", p.id))
			}
		case actors.EffFail:
			w.answers = append(w.answers, fmt.Sprintf("failed by pool %d: %v", p.id, e.Err))
		case actors.EffDial:
			p.conns++
			p.mailbox = append(p.mailbox, hsMsg{kind: hsPoolInput, in: actors.DialDone{Conn: hsConn{}}})
		case actors.EffClose:
			p.mailbox = append(p.mailbox, hsMsg{kind: hsPoolInput, in: actors.CloseDone{Conn: e.Conn}})
		case actors.EffRetire:
			w.mailbox = append(w.mailbox, hsMsg{kind: hsRetireRequest, pool: p, seen: e.Seen})
		case actors.EffDrained:
			w.mailbox = append(w.mailbox, hsMsg{kind: hsDrained, pool: p, seen: p.sm.Stats().Acquires})
		}
	}
}

// check judges a final state.
func (w *hsWorld) check() []string {
	v := append([]string(nil), w.violations...)
	if len(w.answers) != 1 || w.answers[0][:7] != "granted" {
		v = append(v, fmt.Sprintf("the caller's acquire must be granted exactly once; got %q", w.answers))
	}
	return v
}

type hsConn struct{}

func (hsConn) Prepare(string) (driver.Stmt, error) { return nil, driver.ErrSkip }
func (hsConn) Close() error                        { return nil }
func (hsConn) Begin() (driver.Tx, error)           { return nil, driver.ErrSkip }

// explore runs every schedule that extends prefix and returns how many
// final states it reached and the first violating schedule, if any.
func explore(t *testing.T, v hsVariant, prefix []int, outcomes map[string]int) (runs int, bad []int, why []string) {
	w := newHSWorld(t, v)
	for _, who := range prefix {
		w.move(who)
	}
	next := w.enabled()
	if len(next) == 0 {
		outcomes[fmt.Sprint(w.answers, " retired:", w.pools[1].retired)]++
		if vs := w.check(); len(vs) > 0 {
			return 1, prefix, vs
		}
		return 1, nil, nil
	}
	for _, who := range next {
		n, b, y := explore(t, v, append(append([]int(nil), prefix...), who), outcomes)
		runs += n
		if bad == nil && b != nil {
			bad, why = b, y
		}
	}
	return runs, bad, why
}

// TestHandshakeEveryInterleaving model-checks the retirement handshake: every
// interleaving of one caller's send with one retirement ends with the
// acquire granted once, by a pool not retired, and nothing sent to or routed
// to a stopped pool.
func TestHandshakeEveryInterleaving(t *testing.T) {
	outcomes := map[string]int{}
	runs, bad, why := explore(t, hsVariant{}, nil, outcomes)
	require.Nil(t, bad, "schedule %v (0 caller, 1 manager, 2+ pools): %v", bad, why)
	assert.Greater(t, runs, 100, "every interleaving explored")
	// Both ends of the race happen: the retirement refused (the old pool
	// serves the caller) and agreed (a fresh pool does).
	assert.Positive(t, outcomes["[granted by pool 1] retired:false"], "%v", outcomes)
	assert.Positive(t, outcomes["[granted by pool 2] retired:true"], "%v", outcomes)
	t.Logf("%d interleavings, all correct: %v", runs, outcomes)
}

// TestHandshakeCheckerCatchesBrokenProtocols: the same exhaustive check
// finds a bad interleaving when the manager skips the sent-versus-seen
// comparison, and when a caller reads closed before counting itself in sent.
func TestHandshakeCheckerCatchesBrokenProtocols(t *testing.T) {
	for name, v := range map[string]hsVariant{
		"skip sent check":         {skipSentCheck: true},
		"closed read before sent": {closedFirst: true},
	} {
		t.Run(name, func(t *testing.T) {
			_, bad, why := explore(t, v, nil, map[string]int{})
			require.NotNil(t, bad, "the broken protocol must fail in some interleaving")
			t.Logf("caught: schedule %v: %v", bad, why)
		})
	}
}
