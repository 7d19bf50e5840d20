package manager

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/idpool/idpool/messages"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gateRig drives the fleet gate directly: its middleware wraps a stub in
// place of the manager's book, which sends what the test tells it to
// (through its context, as the book's effects go) and answers a
// WithdrawPermit with Removed false (it queues nothing); pools are probes
// that record what reaches them.
type gateRig struct {
	t     *testing.T
	sys   *actor.ActorSystem
	gate  *actor.PID
	fb    *fakeBudget
	pools map[string]*actor.PID
	got   map[string]chan any
}

// bookSends has the stub send msg to a pool through its context.
type bookSends struct {
	to  *actor.PID
	msg any
}

// rigSync is answered once the gate actor has handled everything before it.
type rigSync struct{ done chan struct{} }

// probeMark ends what a probe reports for one check.
type probeMark struct{}

func newGateRig(t *testing.T, fb *fakeBudget, names ...string) *gateRig {
	r := &gateRig{t: t, sys: newActorSystem(nil), fb: fb, pools: make(map[string]*actor.PID), got: make(map[string]chan any)}
	for _, n := range names {
		ch := make(chan any, 64)
		pid, err := r.sys.Root.SpawnNamed(actor.PropsFromFunc(func(c actor.Context) {
			switch c.Message().(type) {
			case actor.SystemMessage, actor.AutoReceiveMessage:
			default:
				ch <- c.Message()
			}
		}), n)
		require.NoError(t, err)
		r.pools[n], r.got[n] = pid, ch
	}
	stub := func(c actor.Context) {
		switch m := c.Message().(type) {
		case *bookSends:
			c.Send(m.to, m.msg)
		case *messages.WithdrawPermit:
			c.Send(m.Pool, &messages.PermitWithdrawn{})
		case *rigSync:
			close(m.done)
		}
	}
	r.gate = r.sys.Root.Spawn(actor.PropsFromFunc(stub, fleetProps(fb)))
	r.sync()
	t.Cleanup(func() { r.sys.Shutdown() })
	return r
}

func (r *gateRig) send(msg any) { r.sys.Root.Send(r.gate, msg) }

func (r *gateRig) book(pool string, msg any) { r.send(&bookSends{to: r.pools[pool], msg: msg}) }

func (r *gateRig) signal(s BudgetSignal) { r.fb.signal(s); r.sync() }

func (r *gateRig) sync() {
	done := make(chan struct{})
	r.send(&rigSync{done})
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		r.t.Fatal("the gate actor did not answer")
	}
}

// drain returns what reached pool so far (after a sync: everything the gate
// sent it before).
func (r *gateRig) drain(pool string) []any {
	r.t.Helper()
	r.sync()
	r.sys.Root.Send(r.pools[pool], &probeMark{})
	var out []any
	for {
		select {
		case m := <-r.got[pool]:
			if _, ok := m.(*probeMark); ok {
				return out
			}
			out = append(out, m)
		case <-time.After(10 * time.Second):
			r.t.Fatal("the probe did not answer")
		}
	}
}

func count[T any](msgs []any) int {
	n := 0
	for _, m := range msgs {
		if _, ok := m.(T); ok {
			n++
		}
	}
	return n
}

// TestFleetGateCountsARefusalOfTheBooksStealAsTheBooks: the gate asked
// alice for a connection (carol waits for a fleet permit); the book's steal
// asked of dave is refused. That refusal answers the book's steal, which
// the book settles: the gate's ask is still out (alice owes it), and the
// next Full asks nobody more. Before, the gate counted it answered too,
// asked alice again, and her second connection closed for nobody.
func TestFleetGateCountsARefusalOfTheBooksStealAsTheBooks(t *testing.T) {
	r := newGateRig(t, &fakeBudget{avail: 2}, "alice", "dave", "carol")
	r.book("alice", &messages.PermitGrant{})
	r.book("dave", &messages.PermitGrant{})
	r.book("carol", &messages.PermitGrant{}) // waits at the gate
	r.signal(BudgetSignal{Full: true})
	require.Equal(t, 1, count[*messages.StealIdle](r.drain("alice")), "the gate asks alice")

	r.book("dave", &messages.StealIdle{}) // the book's, for a request queued there
	r.send(&messages.StealRefused{Pool: r.pools["dave"]})
	r.signal(BudgetSignal{Full: true})
	assert.Zero(t, count[*messages.StealIdle](r.drain("alice")), "alice still owes carol's: nothing more is asked of her")
	assert.Equal(t, 1, count[*messages.StealIdle](r.drain("dave")), "dave is asked only by the book")
}

// TestFleetGateWithdrawalCallsOffTheBooksSteal: the permit the gate hands
// the book back for alice's withdrawn request settles, in the book, the
// steal it asked of her: the gate calls it off at alice.
func TestFleetGateWithdrawalCallsOffTheBooksSteal(t *testing.T) {
	r := newGateRig(t, &fakeBudget{}, "alice")
	r.book("alice", &messages.PermitGrant{}) // waits at the gate
	r.book("alice", &messages.StealIdle{})
	r.send(&messages.WithdrawPermit{Pool: r.pools["alice"]})
	got := r.drain("alice")
	assert.Equal(t, 1, count[*messages.StealCancelled](got), "%#v", got)
	assert.Equal(t, 1, count[*messages.PermitWithdrawn](got))

	// Nothing more is called off for a steal the book no longer counts.
	r.book("alice", &messages.PermitGrant{})
	r.send(&messages.WithdrawPermit{Pool: r.pools["alice"]})
	assert.Zero(t, count[*messages.StealCancelled](r.drain("alice")))
}

// TestFleetGateFullRefusesARequestKeptOnlyForMinSize: alice's request,
// made for a waiter, waits at the gate; the waiter is served otherwise and
// the pool keeps the request only for its MinSize (WithdrawPermit.Fill: it
// stays here, as a fill would). At the fleet's cap it is a fill like any
// other: refused, and no other pool's connection taken for it. Before, the
// gate still counted it as a dial waiting and asked dave for his idle
// connection, closed for alice's MinSize alone.
func TestFleetGateFullRefusesARequestKeptOnlyForMinSize(t *testing.T) {
	r := newGateRig(t, &fakeBudget{avail: 1}, "alice", "dave")
	r.book("dave", &messages.PermitGrant{})  // the fleet's one permit
	r.book("alice", &messages.PermitGrant{}) // a waiter's: waits at the gate
	r.send(&messages.WithdrawPermit{Pool: r.pools["alice"], Fill: true})
	got := r.drain("alice")
	require.Equal(t, 1, count[*messages.PermitWithdrawn](got), "%#v", got)
	require.Zero(t, count[*messages.PermitGrant](got))

	r.signal(BudgetSignal{Full: true})
	assert.Zero(t, count[*messages.StealIdle](r.drain("dave")), "dave's connection is not taken for alice's MinSize")
	assert.Equal(t, 1, count[*messages.FillRefused](r.drain("alice")), "alice's request is refused as a fill")
	_, _, want := r.fb.state()
	assert.Zero(t, want)
}
