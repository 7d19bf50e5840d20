package manager

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// DB is a standard *sql.DB whose connections come from its own Manager, for
// the identity in each call's ctx. Close closes both.
type DB struct {
	*sql.DB
	// Manager owns the pools: read Stats from it.
	Manager *Manager
}

// Open starts a Manager for cfg and returns the *sql.DB facade over it; see
// OpenDB for how identities are taken from each call's ctx.
func Open(cfg Config, opts ...FacadeOption) (*DB, error) {
	m, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return &DB{DB: OpenDB(m, opts...), Manager: m}, nil
}

// OpenDialer is Open with cfg.Dialer set to d and cfg.Server defaulting to
// server (the dialer's key for its server). The driver packages' OpenDB
// helpers call it.
func OpenDialer(d Dialer, server string, cfg Config, opts ...FacadeOption) (*DB, error) {
	cfg.Dialer = d
	if cfg.Server == "" {
		cfg.Server = server
	}
	return Open(cfg, opts...)
}

// CloseTimeout bounds how long DB.Close waits for leases to come back.
const CloseTimeout = 30 * time.Second

// Close closes the *sql.DB, which refuses new calls from then on, and then
// the Manager, which waits up to CloseTimeout for the connections the calls
// in flight hold to come back and for every connection to close (see
// Manager.Close for what happens past it). database/sql's own Close does
// not wait for those calls: the Manager's does.
func (db *DB) Close() error {
	if db == nil || db.DB == nil {
		return ErrNoManager
	}
	err := db.DB.Close()
	ctx, cancel := context.WithTimeout(context.Background(), CloseTimeout)
	defer cancel()
	return errors.Join(err, db.Manager.Close(ctx))
}
