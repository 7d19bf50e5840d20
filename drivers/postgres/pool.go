package postgres

import (
	"context"
	"database/sql/driver"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// Pool is the pgx-native face of an idpool Manager, shaped like pgxpool's:
// every call runs on a *pgx.Conn logged in as the identity in its ctx
// (tokens.WithIdentity), taken from that identity's pool. Underneath it is
// the same Manager, pools, lease guard and session reset as the *sql.DB
// facade's, so a Pool and a facade over one Manager share connections.
//
// The one-shot calls (Exec, Query, QueryRow, SendBatch, CopyFrom, Begin,
// BeginTx) acquire a lease and release it when they are done: Exec and
// CopyFrom before they return; Query when its Rows are closed (or Next
// returns false); QueryRow when its Row is scanned; SendBatch when its
// BatchResults are closed; Begin and BeginTx when the transaction commits or
// rolls back. Until then the connection is held, as with pgxpool: always
// close Rows and BatchResults, and end every transaction. A call that panics
// before it returns its result (an argument's Value or Encode method
// panicking) hands its lease back, closing the connection, before the panic
// goes on. CopyFrom whose source panics hands its lease back too (pgx
// aborted the COPY, so the session is kept), then the panic goes on; see
// Lease.CopyFrom. So do SendBatch's BatchResults when a queued query's
// callback, which pgx runs in their Close, panics: the connection, left
// mid-batch, is closed (and with it a transaction the batch began).
//
// A Pool is safe for concurrent use. A nil *Pool (OpenPool's result after
// an error) answers every call that acquires, and Close, with
// manager.ErrNoManager; its Manager is nil.
type Pool struct {
	m     *manager.Manager
	owned bool
}

// OpenPool starts a Manager for the server in dsn and returns a Pool over
// it; Close closes both. cfg.Dialer is this package's Dialer for dsn, built
// with opts, and cfg.Server defaults to the DSN's server key.
//
// pgxpool's pool parameters in the DSN are honoured where idpool has the
// setting: pool_max_conns sets MaxSize, pool_min_conns MinSize (both per
// identity), pool_max_conn_lifetime MaxLifetime (0 or less: no limit) and
// pool_max_conn_idle_time IdleTimeout. They are taken out of the DSN, never
// sent to the server. A DSN parameter fills the cfg field left zero; a
// field already set to another value is a conflict, refused with an error
// naming both. Any other pool_* parameter (pool_health_check_period, ...) is
// refused with an error naming it, rather than silently ignored.
func OpenPool(dsn string, cfg manager.Config, opts ...Option) (*Pool, error) {
	_, cfg, err := configure(dsn, cfg, opts)
	if err != nil {
		return nil, err
	}
	m, err := manager.New(cfg)
	if err != nil {
		return nil, err
	}
	return &Pool{m: m, owned: true}, nil
}

// NewPool returns a Pool over m, whose Dialer must be this package's (or
// hand out *stdlib.Conn connections): for example the Manager of a facade
// from OpenDB, db.Manager, so that both share pools. The Pool does not own
// m: its Close does nothing, and m is closed by its owner.
//
// The session reset between leases is the Dialer's: with another Dialer's
// *stdlib.Conn it is whatever its connector's ResetSession does (pgx's
// stdlib: none), so session state then reaches the next lease of the same
// identity, as with WithoutSessionReset. A connection such a Dialer pooled
// while still busy (released with its Rows open) or in a transaction is
// closed when the Pool next draws it, never leased.
func NewPool(m *manager.Manager) *Pool { return &Pool{m: m} }

// Manager returns the Manager under the pool, for Stats.
func (p *Pool) Manager() *manager.Manager {
	if p == nil {
		return nil
	}
	return p.m
}

// Close closes the Manager OpenPool started, waiting up to
// manager.CloseTimeout for leases to come back. It does nothing for a Pool
// from NewPool.
func (p *Pool) Close() error {
	if p == nil {
		return manager.ErrNoManager // OpenPool's result after an error
	}
	if !p.owned {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), manager.CloseTimeout)
	defer cancel()
	return p.m.Close(ctx)
}

// Acquire returns a lease on a connection logged in as the identity in ctx,
// from that identity's pool; it waits as manager.Manager.Acquire does. A ctx
// without an identity fails with tokens.ErrNoIdentity. Release the lease
// when done.
func (p *Pool) Acquire(ctx context.Context) (*Lease, error) {
	if p == nil {
		// OpenPool's result kept after an error: every method that
		// acquires says so rather than panic (see manager.ErrNoManager).
		return nil, manager.ErrNoManager
	}
	if ctx == nil {
		return nil, nilContextError("Pool.Acquire")
	}
	id, ok := tokens.IdentityFrom(ctx)
	if !ok {
		return nil, tokens.ErrNoIdentity
	}
	for {
		ml, err := p.m.Acquire(ctx, id)
		if err != nil {
			return nil, err
		}
		sc, ok := ml.Raw().(*stdlib.Conn)
		if !ok {
			ml.Release(nil)
			return nil, fmt.Errorf("postgres: the Manager's Dialer opens %T connections, not pgx's *stdlib.Conn; build it with postgres.NewDialer", ml.Raw())
		}
		// The look at pgx's state is an operation like any other on the
		// lease: a forced Manager.Close may close the connection from the
		// moment it is granted, and pgx's Close running while this
		// goroutine reads the connection is a data race in pgx. Inside the
		// guard, either the forced Close waits for the look (and leaves
		// the connection's Close to it), or it has shut the guard first
		// and the look never runs. context.Background(): the look does no
		// I/O, and a ctx here would become the lease's last operation's
		// (see manager.Lease.Release), closing the connection at Release
		// if Acquire's ctx ended by then.
		c := sc.Conn()
		ok = false
		if err := ml.WithRaw(context.Background(), func(driver.Conn) error {
			ok = reusable(c)
			return nil
		}); err != nil {
			ml.Release(driver.ErrBadConn)
			return nil, err // the forced Close's refusal: ErrLeaseForceClosed
		}
		if ok {
			return &Lease{ml: ml, conn: c}, nil
		}
		// Closed, or left mid-result: take another (the Manager dials
		// a fresh one if none is idle; ctx bounds the wait as before).
		ml.Release(driver.ErrBadConn)
	}
}

// reusable reports whether c, just handed out by the pool, can serve a
// lease: open, no result still being read, no transaction. This package's
// Dialer never pools a connection that is not (its session reset refuses
// it), but a Manager over another Dialer of *stdlib.Conn (NewPool) resets
// what that Dialer's connector does: pgx's stdlib pings only a connection
// idle for over a second (or as its OptionShouldPing says), and keeps one
// released with its Rows still open, pgx's lock still held. Every later
// call on it would then fail with pgx's "conn busy", an error that does not
// break a lease, so the connection would be pooled again and again, failing
// one call in N for good. Reading pgx's state costs no I/O. Acquire calls
// it inside the lease guard: a forced Manager.Close may close c as soon as
// it is granted (see Acquire).
func reusable(c *pgx.Conn) bool {
	pc := c.PgConn()
	return !pc.IsClosed() && !pc.IsBusy() && pc.TxStatus() == 'I'
}

// AcquireFunc acquires a lease as Acquire does, calls f with it and releases
// it when f returns, whatever f returned, and when f panics (the connection
// is then closed, since f may have stopped half-way through using it, and
// the panic goes on). It returns f's error. f must not keep the lease.
func (p *Pool) AcquireFunc(ctx context.Context, f func(*Lease) error) error {
	if ctx == nil {
		return nilContextError("Pool.AcquireFunc")
	}
	l, err := p.Acquire(ctx)
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			l.release(driver.ErrBadConn)
		}
	}()
	err = f(l)
	done = true
	l.release(err)
	return err
}

// Exec runs sql on a connection of the identity in ctx; see pgx.Conn.Exec.
func (p *Pool) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if ctx == nil {
		return pgconn.CommandTag{}, nilContextError("Pool.Exec")
	}
	l, err := p.Acquire(ctx)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	// A panic in Exec (an argument's encoding) closes the connection, as the
	// Pool's doc says of every call.
	handed := false
	defer l.releaseUnlessHanded(&handed)
	tag, err := l.Exec(ctx, sql, args...)
	handed = true
	l.Release()
	return tag, err
}

// Query runs sql on a connection of the identity in ctx; see pgx.Conn.Query.
// The connection is held until the Rows are closed, or Next returns false:
// always close them (defer rows.Close()), or the identity's pool loses a
// connection. A query that fails releases its lease before Query returns;
// its Rows are closed and their Err is Query's error, as with pgx.
func (p *Pool) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if ctx == nil {
		err := nilContextError("Pool.Query")
		return errRows{err}, err
	}
	l, err := p.Acquire(ctx)
	if err != nil {
		return errRows{err}, err
	}
	handed := false
	defer l.releaseUnlessHanded(&handed)
	r, err := l.Query(ctx, sql, args...)
	handed = true
	if err != nil {
		l.Release()
		return r, err
	}
	r.(*rows).onClose = l.Release
	return r, nil
}

// QueryRow runs sql on a connection of the identity in ctx; see
// pgx.Conn.QueryRow. The connection is held until Scan is called, which
// releases it.
func (p *Pool) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if ctx == nil {
		return errRow{nilContextError("Pool.QueryRow")}
	}
	l, err := p.Acquire(ctx)
	if err != nil {
		return errRow{err}
	}
	handed := false
	defer l.releaseUnlessHanded(&handed)
	r := l.QueryRow(ctx, sql, args...).(*row)
	handed = true
	r.onScan = l.Release
	return r
}

// SendBatch sends b on a connection of the identity in ctx; see
// pgx.Conn.SendBatch. The connection is held until the BatchResults are
// closed (always close them), or, when b begins a transaction
// (pgx.Batch.BeginTx), until that transaction (BatchResults.Tx) is committed
// or rolled back, as with pgxpool; a batch that fails before its transaction
// began (pgx then closes the transaction) releases at Close.
func (p *Pool) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if ctx == nil {
		return pgx.FailedBatchResults(b, nilContextError("Pool.SendBatch"))
	}
	l, err := p.Acquire(ctx)
	if err != nil {
		return pgx.FailedBatchResults(b, err)
	}
	handed := false
	defer l.releaseUnlessHanded(&handed)
	br := l.sendBatch(ctx, l.conn, b)
	handed = true
	if br.tx != nil {
		br.tx.onEnd = l.Release
	} else {
		br.onClose = l.Release
	}
	return br
}

// CopyFrom copies rows into a table on a connection of the identity in ctx;
// see pgx.Conn.CopyFrom. pgx reads src in a goroutine of its own and waits
// for it: a src whose Next blocks holds the call, past ctx's deadline, until
// Next returns. A src that panics aborts the COPY, and the panic goes on in
// the caller's goroutine once the lease is back (see Lease.CopyFrom).
func (p *Pool) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	if ctx == nil {
		return 0, nilContextError("Pool.CopyFrom")
	}
	l, err := p.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer l.Release()
	return l.CopyFrom(ctx, table, columns, src)
}

// Begin starts a transaction with default options; see BeginTx.
func (p *Pool) Begin(ctx context.Context) (pgx.Tx, error) {
	if ctx == nil {
		return nil, nilContextError("Pool.Begin")
	}
	return p.BeginTx(ctx, pgx.TxOptions{})
}

// BeginTx starts a transaction on a connection of the identity in ctx; see
// pgx.Conn.BeginTx. The connection is held until Commit or Rollback, which
// release it (also when they fail); a later Rollback, as in the usual
// defer tx.Rollback(ctx), returns pgx.ErrTxClosed. A Commit refused before
// it ran (a ctx of another identity, or a result of the transaction still
// open) leaves the transaction open, to be committed or rolled back.
func (p *Pool) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	if ctx == nil {
		return nil, nilContextError("Pool.BeginTx")
	}
	l, err := p.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	// A panic in BeginTx (the caller's ctx's, as the guard or pgx reads
	// it) leaves no transaction to end: hand the lease back, closing the
	// connection pgx may have left mid-request.
	handed := false
	defer l.releaseUnlessHanded(&handed)
	t, err := l.BeginTx(ctx, opts)
	handed = true
	if err != nil {
		l.Release()
		return nil, err
	}
	t.(*tx).onEnd = l.Release
	return t, nil
}
