package memdb

import (
	"context"
	"database/sql/driver"
	"sync"
	"sync/atomic"
	"time"
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
	dialed []DialAttempt  // guarded by mu
	hook   DialHook       // guarded by mu
	clock  atomic.Pointer[func() time.Time]

	// enforceExpiry makes ops on conns whose token has expired fail.
	enforceExpiry atomic.Bool
	expiredUses   atomic.Int64

	// Per-call switches read on every Ping and ResetSession, kept out of mu
	// so that benchmarks running many goroutines do not queue on it.
	pingErr  atomic.Pointer[errBox]
	resetErr atomic.Pointer[errBox]

	dials     atomic.Int64
	opened    atomic.Int64
	openNow   atomic.Int64
	openPeak  atomic.Int64 // the highest openNow reached
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
	db := &DB{tables: make(map[string]int)}
	db.SetClock(time.Now)
	return db
}

// SetClock makes the DB read time from now (for Opened and token expiry),
// e.g. a virtual clock. now must be safe for concurrent use.
func (db *DB) SetClock(now func() time.Time) { db.clock.Store(&now) }

func (db *DB) now() time.Time { return (*db.clock.Load())() }

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
