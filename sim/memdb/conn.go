package memdb

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync/atomic"
	"time"
)

// Errors a Conn returns for misuse and transaction mistakes. Killed and
// broken conns return driver.ErrBadConn instead.
var (
	// ErrConnClosed is returned by every call on a closed conn, and by a
	// second Close.
	ErrConnClosed = errors.New("memdb: connection is closed")
	// ErrConcurrentUse is returned to a call made while another call on the
	// same conn is running.
	ErrConcurrentUse = errors.New("memdb: connection used by two goroutines at once")
	// ErrNoTx is returned by COMMIT or ROLLBACK outside a transaction.
	ErrNoTx = errors.New("memdb: no transaction is open")
	// ErrTxOpen is returned by BEGIN inside a transaction.
	ErrTxOpen = errors.New("memdb: a transaction is already open")
)

// Conn is one fake physical connection, returned by DB.Dial and the
// Connector. It implements driver.Conn and the context, ping, validation,
// session-reset and named-value extensions. Like a real connection it serves
// one call at a time; overlapping calls are detected and recorded as misuse.
type Conn struct {
	db          *DB
	id          int64
	identity    string
	identityVal driver.Value // boxed once, so SELECT IDENTITY allocates nothing
	fingerprint string
	expiresOn   time.Time
	opened      time.Time
	killed      chan struct{} // made on first SLEEP, closed when the conn dies; guarded by db.mu

	busy   atomic.Bool // held for the length of each call
	closes atomic.Int32
	dead   atomic.Bool
	inTx   atomic.Bool

	resets, pings, validates, queries, cancels, uses atomic.Int64

	// Owned by whoever holds busy.
	pending map[string]int // rows inserted by the open transaction

	rowsBuf  rows // reused for the common one-result-set-at-a-time case
	rowsBusy atomic.Bool
}

var (
	_ driver.Conn               = (*Conn)(nil)
	_ driver.ConnBeginTx        = (*Conn)(nil)
	_ driver.ConnPrepareContext = (*Conn)(nil)
	_ driver.QueryerContext     = (*Conn)(nil)
	_ driver.ExecerContext      = (*Conn)(nil)
	_ driver.Pinger             = (*Conn)(nil)
	_ driver.Validator          = (*Conn)(nil)
	_ driver.SessionResetter    = (*Conn)(nil)
	_ driver.NamedValueChecker  = (*Conn)(nil)
)

// ID is the conn's number in the DB's records (from 1).
func (c *Conn) ID() int64 { return c.id }

// Identity is the label the conn was dialled with ("" for SQL login).
func (c *Conn) Identity() string { return c.identity }

// TokenFingerprint is the login token's fingerprint ("" for none).
func (c *Conn) TokenFingerprint() string { return c.fingerprint }

// Info returns a snapshot of the conn's record.
func (c *Conn) Info() ConnInfo {
	n := int(c.closes.Load())
	return ConnInfo{
		ID:               c.id,
		Identity:         c.identity,
		TokenFingerprint: c.fingerprint,
		TokenExpiresOn:   c.expiresOn,
		Opened:           c.opened,
		Closed:           n > 0,
		CloseCount:       n,
		Dead:             c.dead.Load(),
		InTx:             c.inTx.Load(),
		Resets:           int(c.resets.Load()),
		Pings:            int(c.pings.Load()),
		Validates:        int(c.validates.Load()),
		Queries:          int(c.queries.Load()),
		Cancels:          int(c.cancels.Load()),
		Uses:             int(c.uses.Load()),
	}
}

// enter claims the conn for one call named op, or records why it cannot:
// on success the caller must call leave.
func (c *Conn) enter(op string) error {
	if !c.busy.CompareAndSwap(false, true) {
		c.db.recordMisuse(c, ConcurrentUse, op)
		return ErrConcurrentUse
	}
	if c.closes.Load() > 0 {
		c.busy.Store(false)
		c.db.recordMisuse(c, UseAfterClose, op)
		return ErrConnClosed
	}
	c.bump(&c.uses)
	if c.db.tokenExpired(c.expiresOn) {
		c.db.expiredUses.Add(1)
		c.markDead()
		c.leave()
		return ErrTokenExpired
	}
	return nil
}

// bump counts one event in a record counter and wakes Await callers, so a
// test can wait for, say, a query to have started.
func (c *Conn) bump(n *atomic.Int64) {
	n.Add(1)
	c.db.changes.notify()
}

func (c *Conn) leave() {
	c.busy.Store(false)
	c.db.changes.notify()
}

// markDead makes the conn unusable: killed by the server, or its wire state
// unknown after a cancelled operation.
func (c *Conn) markDead() {
	if !c.dead.CompareAndSwap(false, true) {
		return
	}
	c.db.mu.Lock()
	if c.killed != nil {
		close(c.killed)
	}
	c.db.mu.Unlock()
	c.db.changes.notify()
}

// killedChan returns a channel closed when the conn dies, or nil if it is
// dead already. It is made lazily so that a dial costs one allocation less.
func (c *Conn) killedChan() <-chan struct{} {
	c.db.mu.Lock()
	defer c.db.mu.Unlock()
	if c.dead.Load() {
		// markDead has run its CAS; it closes a channel only if one exists.
		return nil
	}
	if c.killed == nil {
		c.killed = make(chan struct{})
	}
	return c.killed
}

// Close closes the conn, rolling back any open transaction. Closing a dead
// conn succeeds; closing twice returns ErrConnClosed and records misuse.
func (c *Conn) Close() error {
	if c.closes.Add(1) > 1 {
		c.db.recordMisuse(c, DoubleClose, "Close")
		return ErrConnClosed
	}
	if c.busy.CompareAndSwap(false, true) {
		c.discardTx()
		c.busy.Store(false)
	} else {
		// Another call is still running: leave its state alone, but the
		// conn is closed all the same.
		c.db.recordMisuse(c, ConcurrentUse, "Close")
		c.inTx.Store(false)
	}
	c.db.openNow.Add(-1)
	c.db.changes.notify()
	return nil
}

// Ping fails with driver.ErrBadConn on a dead conn, otherwise with the
// DB's ping error, if one is set.
func (c *Conn) Ping(ctx context.Context) error {
	if err := c.enter("Ping"); err != nil {
		return err
	}
	defer c.leave()
	c.bump(&c.pings)
	if c.dead.Load() {
		return driver.ErrBadConn
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return loadErr(&c.db.pingErr)
}

// IsValid reports whether the conn is alive (not killed, not broken). It is
// false for a closed conn, which is also recorded as misuse.
func (c *Conn) IsValid() bool {
	if c.enter("IsValid") != nil {
		return false
	}
	defer c.leave()
	c.bump(&c.validates)
	return !c.dead.Load()
}

// ResetSession rolls back any open transaction, as sp_reset_connection
// does, then fails with driver.ErrBadConn on a dead conn or with the DB's
// reset error, if one is set.
func (c *Conn) ResetSession(ctx context.Context) error {
	if err := c.enter("ResetSession"); err != nil {
		return err
	}
	defer c.leave()
	c.bump(&c.resets)
	c.discardTx()
	if c.dead.Load() {
		return driver.ErrBadConn
	}
	return loadErr(&c.db.resetErr)
}

// CheckNamedValue accepts every argument: the tiny SQL surface ignores them.
func (c *Conn) CheckNamedValue(*driver.NamedValue) error { return nil }

// Begin starts a transaction; prefer BeginTx.
func (c *Conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx starts a transaction. Isolation level and read-only are accepted
// and ignored.
func (c *Conn) BeginTx(ctx context.Context, _ driver.TxOptions) (driver.Tx, error) {
	if err := c.enter("BeginTx"); err != nil {
		return nil, err
	}
	defer c.leave()
	if c.dead.Load() {
		return nil, driver.ErrBadConn
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := c.beginTx(); err != nil {
		return nil, err
	}
	return (*tx)(c), nil
}

// Prepare prepares a statement; prefer PrepareContext.
func (c *Conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext checks query against the SQL surface and returns a
// statement that runs it on this conn.
func (c *Conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if err := c.enter("Prepare"); err != nil {
		return nil, err
	}
	defer c.leave()
	if c.dead.Load() {
		return nil, driver.ErrBadConn
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := parse(query); err != nil {
		return nil, err
	}
	return &stmt{c: c, query: query}, nil
}

// QueryContext runs one statement and returns its result set (empty for
// statements that return no rows). Arguments are ignored.
func (c *Conn) QueryContext(ctx context.Context, query string, _ []driver.NamedValue) (driver.Rows, error) {
	if err := c.enter("Query"); err != nil {
		return nil, err
	}
	defer c.leave()
	res, err := c.run(ctx, query)
	if err != nil {
		return nil, err
	}
	return c.newRows(res), nil
}

// ExecContext runs one statement; an INSERT reports one row affected.
// Arguments are ignored.
func (c *Conn) ExecContext(ctx context.Context, query string, _ []driver.NamedValue) (driver.Result, error) {
	if err := c.enter("Exec"); err != nil {
		return nil, err
	}
	defer c.leave()
	res, err := c.run(ctx, query)
	if err != nil {
		return nil, err
	}
	return driver.RowsAffected(res.affected), nil
}
