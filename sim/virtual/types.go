package virtual

import (
	"database/sql/driver"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/manager/decide"
	"github.com/idpool/idpool/sim/workload"
	"github.com/idpool/idpool/tokens"
)

// identity is one simulated principal: its pool key, the pool the manager
// routes it to, and its state at the token endpoint.
type identity struct {
	name string
	key  tokens.Key
	// route is the route the manager published for the identity (nil:
	// none; the next acquire goes to the manager, which spawns a pool).
	route *vroute
	// tok is the endpoint's cached token, with its real expiry (ns).
	tokValue  string
	tokExpiry int64
	tokN      int
	rotateDue bool
	used      bool
}

// vpool is one actors.Pool plus what the harness sees of it through its
// effects.
type vpool struct {
	sm    *actors.Pool
	ident *identity
	// id is the pool's name in the manager's decisions; route is how
	// callers reach it.
	id    decide.PoolID
	route *vroute
	// started: its Start was stepped; retired: the manager agreed to its
	// retirement; stopped: the manager stopped it (EffStop);
	// retireSeen: the Seen of its latest retirement request.
	started, retired, stopped bool
	retireSeen                uint64
	closing                   bool
	drained                   bool
	wakeGen                   uint64
	// open: connections opened and not yet asked to close; dialing: dials
	// asked for and not done; busy: connections granted and not released.
	open, dialing, busy int
	validating          int
	minting             bool
	overMax             bool
	// crashed: the state machine panicked; the pool is abandoned.
	crashed bool
	// idx numbers pools in creation order.
	idx uint64
	// lastTick and spins detect a pool spinning on its timer.
	lastTick     int64
	spins        int
	spinReported bool
	// queue holds the acquires delivered to the pool, in arrival order,
	// until answered.
	queue []*request
	head  int
	// checkBudget bounds how many waiters the pool may be serving through
	// a health or token check at the start of the current step.
	checkBudget int
	// closingN counts sessions asked to close whose close has not finished:
	// still sessions at the server, so they count against MaxSize.
	closingN int
	// rest tracks the pool during the rest period (see churn.go).
	rest restBook
}

// handle is how an answer, found by its acquire's ID, reaches its caller
// (see engine.handles). The indirection lets the
// reorder-grants bug swap which caller an answer reaches.
type handle struct {
	id      uint64
	req     *request
	swallow bool
}

// request is one acquire, from arrival to release.
type request struct {
	h        *handle
	ident    *identity
	pool     *vpool
	w        *worker
	arrived  int64
	queueIdx int
	queued   bool
	answered bool
	timedOut bool
	finished bool
	conn     *bconn // the connection the pool granted
	connID   actors.ConnID
	use      *bconn // the connection the worker uses (differs only under a bug)
	op       workload.Op
	broken   bool
	// route: the route the caller counted itself in and has yet to read
	// closed on; delivered: it reached its pool's mailbox.
	route     *vroute
	delivered bool
	// poolDeadline: the pool enforces the deadline (the manager's way for a
	// ctx without one); otherwise the caller's ctx does, with Cancel.
	poolDeadline bool
}

// worker is one closed-loop caller.
type worker struct{ id int }

// bconn is one physical session at the simulated server.
type bconn struct {
	id         int64
	ident      *identity
	pool       *vpool
	realExpiry int64 // when its login token really expires (ns); 0: none
	dead       bool  // killed at the server
	open       bool  // physically open
	released   bool  // the pool asked for it to be closed
	leaked     bool  // the leak-close bug kept it open
	holder     *request
	openIdx    int
}

// bconn is what a pool holds as a connection (actors.Effect.Resource): the
// pool never calls it, the harness plays the session itself.
var _ driver.Conn = (*bconn)(nil)

// Prepare is never called: the harness plays statements without a driver.
func (c *bconn) Prepare(string) (driver.Stmt, error) { return nil, driver.ErrSkip }

// Close is never called: closes are events (see closeEffect).
func (c *bconn) Close() error { return nil }

// Begin is never called.
func (c *bconn) Begin() (driver.Tx, error) { return nil, driver.ErrSkip }

// dialOp is one dial in flight, or waiting for a permit under MaxTotal.
type dialOp struct {
	pool    *vpool
	tok     tokens.Token
	err     error
	started bool
	// extra: opened behind the pool's back (the ignore-max bug); the pool
	// never hears of it.
	extra bool
}
