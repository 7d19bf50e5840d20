package memdb

import (
	"context"
	"database/sql/driver"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idpool/idpool/actors"
)

// DB is a fake server: a shared table store, fault switches, and a record of
// every connection it ever opened. The zero value is not usable; call New.
// All methods are safe for concurrent use.
type DB struct {
	mu     sync.Mutex
	conns  []*Conn        // index = ID-1; guarded by mu
	tables map[string]int // committed rows per table; guarded by mu
	faults dialFaults     // guarded by mu
	misuse []MisuseRecord // guarded by mu
	now    func() time.Time

	// Per-call switches read on every Ping and ResetSession, kept out of mu
	// so that benchmarks running many goroutines do not queue on it.
	pingErr  atomic.Pointer[errBox]
	resetErr atomic.Pointer[errBox]

	dials     atomic.Int64
	opened    atomic.Int64
	openNow   atomic.Int64
	misuses   atomic.Int64
	queryFail queryFaults

	changes changeFeed
}

// errBox lets an atomic.Pointer hold an error (nil pointer = no error).
type errBox struct{ err error }

func loadErr(p *atomic.Pointer[errBox]) error {
	if b := p.Load(); b != nil {
		return b.err
	}
	return nil
}

func storeErr(p *atomic.Pointer[errBox], err error) {
	if err == nil {
		p.Store(nil)
		return
	}
	p.Store(&errBox{err: err})
}

// New returns an empty, healthy DB.
func New() *DB {
	return &DB{tables: make(map[string]int), now: time.Now}
}

var _ actors.Dialer = (*DB)(nil)

// Dial implements actors.Dialer. The conn is labelled with the pool key's
// discriminator ("" for SQL login) and records the token's fingerprint and
// expiry, never its value ("" and the zero time when no token was given).
// Injected faults apply in this order: BlockDials, SetDialLatency (both
// give up with ctx.Err() when ctx ends, consuming no fault), then PanicDials,
// then FailDials.
func (db *DB) Dial(ctx context.Context, req actors.DialRequest) (driver.Conn, error) {
	var fp string
	var exp time.Time
	if !req.Token.IsZero() {
		fp, exp = req.Token.Fingerprint(), req.Token.ExpiresOn
	}
	return asDriverConn(db.open(ctx, req.Key.Discriminator(), fp, exp))
}

// asDriverConn keeps a failed open from returning a non-nil driver.Conn
// that holds a nil *Conn.
func asDriverConn(c *Conn, err error) (driver.Conn, error) {
	if err != nil {
		return nil, err
	}
	return c, nil
}

// open is the one dial path behind Dial, Connector and Driver.
func (db *DB) open(ctx context.Context, identity, fingerprint string, expiresOn time.Time) (*Conn, error) {
	db.dials.Add(1)
	db.changes.notify()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	db.mu.Lock()
	gate, latency := db.faults.gate, db.faults.latency
	db.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if latency > 0 {
		if err := wait(ctx, latency, nil); err != nil {
			return nil, err
		}
	}

	db.mu.Lock()
	if db.faults.panics > 0 {
		db.faults.panics--
		db.mu.Unlock()
		panic("memdb: injected dial panic")
	}
	if err := db.faults.takeFailure(); err != nil {
		db.mu.Unlock()
		return nil, err
	}
	c := &Conn{
		db:          db,
		id:          int64(len(db.conns)) + 1,
		identity:    identity,
		identityVal: identity,
		fingerprint: fingerprint,
		expiresOn:   expiresOn,
		opened:      db.now(),
	}
	db.conns = append(db.conns, c)
	db.mu.Unlock()
	db.opened.Add(1)
	db.openNow.Add(1)
	db.changes.notify()
	return c, nil
}

// SetClock makes the DB read time from now (for Opened), e.g. a virtual clock.
func (db *DB) SetClock(now func() time.Time) {
	db.mu.Lock()
	db.now = now
	db.mu.Unlock()
}

// wait blocks for d, until ctx ends (returning ctx.Err()) or until stop is
// closed (returning driver.ErrBadConn).
func wait(ctx context.Context, d time.Duration, stop <-chan struct{}) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-stop:
		return driver.ErrBadConn
	}
}

// commit adds a transaction's pending rows to the shared store.
func (db *DB) commit(pending map[string]int) {
	db.mu.Lock()
	for t, n := range pending {
		db.tables[t] += n
	}
	db.mu.Unlock()
}

func (db *DB) committed(table string) int {
	db.mu.Lock()
	n := db.tables[table]
	db.mu.Unlock()
	return n
}

// conn returns the conn with the given ID, or nil.
func (db *DB) connByID(id int64) *Conn {
	db.mu.Lock()
	defer db.mu.Unlock()
	if id < 1 || id > int64(len(db.conns)) {
		return nil
	}
	return db.conns[id-1]
}

// commit1 adds one committed row (an INSERT outside a transaction).
func (db *DB) commit1(table string) {
	db.mu.Lock()
	db.tables[table]++
	db.mu.Unlock()
}
