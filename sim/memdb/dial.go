package memdb

import (
	"context"
	"database/sql/driver"
	"errors"
	"time"

	"github.com/idpool/idpool/actors"
)

// ErrDialPanicked is recorded in DialAttempt.Err for a dial PanicDials made
// panic.
var ErrDialPanicked = errors.New("memdb: dial panicked")

// DialAttempt records one dial: who asked, with which token, and how it
// ended.
type DialAttempt struct {
	// Identity is the label asked for (the key's discriminator, or the
	// Connector's identity).
	Identity string
	// TokenFingerprint and TokenExpiresOn describe the login token ("" and
	// the zero time for none).
	TokenFingerprint string
	TokenExpiresOn   time.Time
	// ConnID is the opened conn's ID, 0 if the dial failed.
	ConnID int64
	// Err is why the dial failed (nil if it succeeded).
	Err error
}

// DialHook decides a dial after the injected faults let it through: a
// non-nil error fails it. Tests use it for per-identity failures, token
// checks, or to observe the ctx a dial runs under. It runs on the dialling
// goroutine, without the DB's lock, so it may call the DB.
type DialHook func(ctx context.Context, a DialAttempt) error

// SetDialHook installs hook for later dials (nil removes it).
func (db *DB) SetDialHook(hook DialHook) {
	db.mu.Lock()
	db.hook = hook
	db.mu.Unlock()
}

// DialAttempts returns every dial attempt so far, oldest first (in the order
// they ended).
func (db *DB) DialAttempts() []DialAttempt {
	db.mu.Lock()
	defer db.mu.Unlock()
	return append([]DialAttempt(nil), db.dialed...)
}

var _ actors.Dialer = (*DB)(nil)

// Dial implements actors.Dialer. The conn is labelled with the pool key's
// discriminator ("" for SQL login) and records the token's fingerprint and
// expiry, never its value ("" and the zero time when no token was given).
//
// A dial goes through, in order: BlockDials and SetDialLatency (both give up
// with ctx.Err() when ctx ends, consuming no fault), PanicDials, FailDials,
// EnforceTokenExpiry (an expired token fails with ErrTokenExpired), and the
// DialHook.
func (db *DB) Dial(ctx context.Context, req actors.DialRequest) (driver.Conn, error) {
	a := DialAttempt{Identity: req.Key.Discriminator()}
	if !req.Token.IsZero() {
		a.TokenFingerprint, a.TokenExpiresOn = req.Token.Fingerprint(), req.Token.ExpiresOn
	}
	return asDriverConn(db.open(ctx, a))
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
func (db *DB) open(ctx context.Context, a DialAttempt) (*Conn, error) {
	db.dials.Add(1)
	db.changes.notify()
	hook, err := db.admit(ctx, a)
	if err == nil && hook != nil {
		err = hook(ctx, a)
	}
	db.mu.Lock()
	if err != nil {
		a.Err = err
		db.dialed = append(db.dialed, a)
		db.mu.Unlock()
		db.changes.notify()
		return nil, err
	}
	c := &Conn{
		db:          db,
		id:          int64(len(db.conns)) + 1,
		identity:    a.Identity,
		identityVal: a.Identity,
		fingerprint: a.TokenFingerprint,
		expiresOn:   a.TokenExpiresOn,
		opened:      db.now(),
	}
	db.conns = append(db.conns, c)
	a.ConnID = c.id
	db.dialed = append(db.dialed, a)
	db.mu.Unlock()
	db.opened.Add(1)
	db.notePeak(db.openNow.Add(1))
	db.changes.notify()
	return c, nil
}

// admit applies the injected dial faults and returns the hook to run, if
// the dial may go on.
func (db *DB) admit(ctx context.Context, a DialAttempt) (DialHook, error) {
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
	defer db.mu.Unlock()
	if db.faults.panics > 0 {
		db.faults.panics--
		a.Err = ErrDialPanicked
		db.dialed = append(db.dialed, a)
		// The deferred Unlock runs before the panic leaves admit.
		panic("memdb: injected dial panic")
	}
	if err := db.faults.takeFailure(); err != nil {
		return nil, err
	}
	if db.tokenExpired(a.TokenExpiresOn) {
		return nil, ErrTokenExpired
	}
	return db.hook, nil
}
