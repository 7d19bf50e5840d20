package actors

import (
	"database/sql/driver"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/idpool/idpool/messages"
	"github.com/idpool/idpool/tokens"
)

type connState uint8

const (
	connIdle connState = iota
	connBusy
	// connChecking: being health-checked or having its token re-checked,
	// usually on behalf of a waiter.
	connChecking
)

type checkKind uint8

const (
	checkNone checkKind = iota
	checkHealth
	checkToken
)

// conn is the pool's record of one open physical connection. A connection
// being closed leaves conns at once but keeps its slot (counted in
// closesInFlight) until its close has finished.
//
// The one-byte fields sit together so that conn fits 128 bytes, the size
// class an idle pool pays per open connection.
type conn struct {
	id       ConnID
	resource driver.Conn
	state    connState
	check    checkKind
	// fresh: opened and not yet granted, so its first grant is a miss.
	fresh bool
	// evicted: Evict dropped it; it closes as soon as nothing uses it.
	evicted bool
	// suspect: a sibling came back broken while this one was idle, so it is
	// health-checked before its next grant however briefly it was idle (see
	// Release).
	suspect   bool
	waiter    *waiter
	deadline  time.Time // lifetime end; zero when MaxLifetime is off
	idleSince time.Time
	token     tokens.Token
	// holder is the caller a busy connection was granted to (nil when
	// not busy, or when the acquire named none): a forced close hands it
	// to its EffClose, so that the Close waits for the caller's operation
	// still inside the connection (see ForceClose).
	holder messages.DirectGrant
}

// Pool is the state machine of one pool key. It is not safe for concurrent
// use: exactly one goroutine (the pool actor, or the simulation) drives it,
// through Step, Ready and Advance (see the package doc).
type Pool struct {
	// The fields sit in the order the hit path (an acquire granted an idle
	// connection at once, and its release) touches them, so that it reads
	// and writes the first six of the struct's eleven cache lines and no
	// other: with many identities a pool's state is cold when its actor
	// next runs (in another core's cache, or out of both), and each line it
	// touches is a miss (see TestHitPathFieldsComeFirst and docs/
	// BENCHMARKS.md, many_identities). The rest, touched when a pool dials,
	// mints, waits or reports, comes after.
	cfg poolCfg

	// The flags sit together, so that each does not cost a padded word:
	// Pool's size decides its allocation's size class (see
	// TestPoolFitsItsSizeClass).
	// handedOut: Ready gave out to the driver, and no Step may run until
	// Advance.
	handedOut bool
	closing   bool
	// retireAsked: the pool asked the manager to retire it.
	retireAsked bool
	// retireDue: the pool has been quiet for RetireAfter and empties
	// itself to retire; it opens nothing (no MinSize refill) until an
	// acquire comes (see maybeRetire).
	retireDue bool
	minting   bool
	drained   bool
	// fillHeld: a MinSize fill was refused at the global cap, or its dials
	// failed with no blocking period to wait out; no fill is asked for
	// again before rare.fillRetryAt (see permitRefused, holdFailingFill).
	fillHeld bool
	// mintRetried: the mint in flight asks again for a token that crossed
	// the threshold while the last one was minted (see retryCrossedMint).
	mintRetried bool

	// out collects the effects of the Steps since the last Advance; nil
	// when there are none (see effectLists).
	out *[]Effect
	// rare holds the failure streak, Evict epochs and rotation tokens; nil
	// until the first of them (see rareState).
	rare *rareState

	// conns are the open connections, by id. A slice sorted by id (ids only
	// grow) rather than a map: a pool has few connections, and an empty Go
	// map costs 48 bytes and its first group 144 more in each of thousands
	// of idle pools, while this slice costs 8 per connection.
	conns []*conn
	idle  []*conn // LIFO: the top is the most recently returned
	busy  int

	// closesInFlight counts connections asked to close whose close has not
	// finished; they count against MaxSize (see size).
	closesInFlight int
	dialing        int // dials in flight
	awaitingToken  int // dial reservations waiting for the mint in flight
	// awaitingPermit counts dial reservations waiting for a global-cap
	// permit; owed counts StealIdle requests not yet paid with a connection.
	awaitingPermit int
	owed           int

	seen         uint64
	waiters      waitQueue
	lastActivity time.Time
	wakeAt       time.Time

	wait  waitHist
	stats counters

	// Below: what the hit path does not touch.

	checking []*conn // connections whose token awaits the mint in flight
	nextConn ConnID
	latest   tokens.Token // the newest token minted

	// rng is held by value, not as a *rand.Rand: that saves every pool two
	// small allocations (see int64N).
	rng rand.PCG

	cred credState // the newest credential's generation (credential.go)

	// mintStarted is when the mint in flight began, as the wall clock's
	// Unix nanoseconds (8 bytes where a time.Time takes 24, see
	// TestPoolFitsItsSizeClass).
	mintStarted int64
}

// New returns the state machine for one pool. Its first input must be Start.
func New(cfg PoolConfig) *Pool { return NewSharing(cfg, nil) }

// NewSharing is New for one of many pools whose configurations differ only
// in the fields each pool has of its own (Key, Seed, UsesToken,
// NeedsPermit): when cfg's other fields equal *shared, the pool keeps a
// pointer to shared rather than a copy. shared must not change afterwards.
// A nil shared, or one that differs, gives the pool a copy of its own.
func NewSharing(cfg PoolConfig, shared *PoolConfig) *Pool {
	if cfg.MaxSize < 1 {
		cfg.MaxSize = 1
	}
	if cfg.MinSize > cfg.MaxSize {
		cfg.MinSize = cfg.MaxSize
	}
	own, rest := ownFields(cfg)
	if shared != nil && *shared == rest {
		own.PoolConfig = shared
	} else {
		own.PoolConfig = &rest
	}
	return &Pool{
		cfg: own,
		rng: *rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15),
	}
}

// Config returns the configuration the pool runs with.
func (p *Pool) Config() PoolConfig { return p.cfg.whole() }

// start opens the MinSize connections and arms the timers.
func (p *Pool) start(now time.Time) {
	p.lastActivity = now
	p.serve(now)
	p.rescheduleWake(now)
}

// size is what counts against MaxSize: every session the pool has or may
// soon have at the server. That is open connections, reservations, and
// connections whose close has not finished: a session being closed still
// counts at the server (Azure SQL counts sessions, not the pool's books).
func (p *Pool) size() int {
	return len(p.conns) + p.dialing + p.awaitingToken + p.awaitingPermit + p.closesInFlight
}

// coming counts the connections on their way: dials in flight and
// reservations waiting for a token or a permit, but not the permit requests
// being withdrawn (they still count in size until answered).
func (p *Pool) coming() int {
	return p.dialing + p.awaitingToken + p.awaitingPermit - p.withdrawing()
}

// int64N draws from [0, n) with the pool's seeded generator.
func (p *Pool) int64N(n int64) int64 { return rand.New(&p.rng).Int64N(n) }

// connOf returns the open connection id, or nil.
func (p *Pool) connOf(id ConnID) *conn {
	if i, ok := p.connIndex(id); ok {
		return p.conns[i]
	}
	return nil
}

// dropConn takes c out of the open connections.
func (p *Pool) dropConn(c *conn) {
	if i, ok := p.connIndex(c.id); ok {
		p.conns = slices.Delete(p.conns, i, i+1)
	}
}

// connIndex finds id in conns (sorted by id) by binary search, as
// slices.BinarySearchFunc would: written out, the search compares ids
// in line instead of calling a comparison function per probe, and every
// Release pays for this search.
func (p *Pool) connIndex(id ConnID) (int, bool) {
	lo, hi := 0, len(p.conns)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if p.conns[m].id < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(p.conns) && p.conns[lo].id == id
}
