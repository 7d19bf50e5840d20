package decide

import (
	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/tokens"
)

// Config is what the manager's decisions depend on.
type Config struct {
	// Server names the pools' keys (tokens.NewKey(Server, disc)).
	Server string
	// Pool is the configuration every pool gets, but for what is its own:
	// Key, UsesToken, NeedsPermit and Seed (see poolConfig).
	Pool actors.PoolConfig
	// MaxTotal caps connections across all pools; zero: no cap.
	MaxTotal int
	// Seed, plus the pool's number, seeds each pool.
	Seed uint64
}

type poolState uint8

const (
	live poolState = iota
	// retiring: the route was closed for a retirement; RouteClosed decides.
	retiring
	// draining: retired or closed; the pool closes everything and reports
	// Drained.
	draining
)

// pool is the manager's record of one pool.
type pool struct {
	id    PoolID
	disc  string
	state poolState
	// retired: its retirement was agreed, so no acquire can reach it any
	// more (see routeClosed).
	retired    bool
	retireSeen uint64
}

// Manager is the manager's state machine. Like actors.Pool it is driven by
// one goroutine through Step, Ready and Advance.
type Manager struct {
	cfg Config
	// pools: the live pool of each identity; byID: every pool not yet
	// drained (live, retiring, draining).
	pools map[string]*pool
	byID  map[PoolID]*pool
	// draining counts pools in byID that were told to close.
	draining int
	nextID   PoolID
	closed   bool
	// closedSent: EffClosed was emitted.
	closedSent       bool
	created, retired uint64
	// book is nil unless MaxTotal is set.
	book *permitBook
	// poolDeletes and idDeletes count deletions since each map was last
	// rebuilt (see shrink.Map).
	poolDeletes, idDeletes int

	out       []Effect
	handedOut bool
}

// New returns the manager's state machine.
func New(cfg Config) *Manager {
	m := &Manager{cfg: cfg, pools: make(map[string]*pool), byID: make(map[PoolID]*pool)}
	if cfg.MaxTotal > 0 {
		m.book = newPermitBook(cfg.MaxTotal)
	}
	return m
}

// poolConfig is the one place a pool's configuration is assembled: the
// shared template plus what is the pool's own.
func (m *Manager) poolConfig(disc string, usesToken bool) actors.PoolConfig {
	cfg := m.cfg.Pool
	cfg.Key = tokens.NewKey(m.cfg.Server, disc)
	cfg.UsesToken = usesToken
	cfg.NeedsPermit = m.book != nil
	cfg.Seed = m.cfg.Seed + m.created
	return cfg
}

func (m *Manager) emit(e Effect) { m.out = append(m.out, e) }

// Pool returns the live pool of disc, if any.
func (m *Manager) Pool(disc string) (PoolID, bool) {
	if p := m.pools[disc]; p != nil {
		return p.id, true
	}
	return 0, false
}

// PoolsOf returns the pools of disc that have not drained, oldest first:
// its live (or retiring) pool, and any closing after its retirement whose
// connections may still be closing.
func (m *Manager) PoolsOf(disc string) []PoolID {
	return ids(m.sorted(func(p *pool) bool { return p.disc == disc }))
}

// Undrained returns every pool that has not drained, oldest first: live,
// retiring, or closing.
func (m *Manager) Undrained() []PoolID {
	return ids(m.sorted(func(*pool) bool { return true }))
}

func ids(ps []*pool) []PoolID {
	out := make([]PoolID, len(ps))
	for i, p := range ps {
		out[i] = p.id
	}
	return out
}

// Live returns the live pools, oldest first.
func (m *Manager) Live() []PoolID {
	ps := m.sorted(func(p *pool) bool { return p.state == live })
	ids := make([]PoolID, len(ps))
	for i, p := range ps {
		ids[i] = p.id
	}
	return ids
}

// Pools counts the live pools; Draining those retiring or closing that have
// not drained yet.
func (m *Manager) Pools() int { return len(m.pools) }

// Draining counts the pools told to close that have not drained.
func (m *Manager) Draining() int { return m.draining }

// Created and Retired count pools since New.
func (m *Manager) Created() uint64 { return m.created }

// Retired counts the pools whose retirement was agreed.
func (m *Manager) Retired() uint64 { return m.retired }

// Closed reports whether Close has been stepped.
func (m *Manager) Closed() bool { return m.closed }

// Permits returns the permits in use and the requests queued under MaxTotal
// (zeros without it).
func (m *Manager) Permits() (inUse, waiting int) {
	if m.book == nil {
		return 0, 0
	}
	return m.book.inUse, len(m.book.queue)
}
