package postgres

import (
	"context"
	"crypto/tls"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/manager"
)

// Dialer opens pgx connections for the pool. It implements actors.Dialer and
// is safe for concurrent use: each dial works on its own copy of the parsed
// DSN.
//
// A Dialer prints redacted (server key only) with every fmt verb, by value
// and by pointer, through slog and through encoding/json and text encoders;
// the parsed DSN is reachable only through a closure, so even a dump that
// cannot call those methods (a Dialer in an unexported field of another
// struct, where fmt prints fields raw, following pointers for %s) prints a
// function address, never the password.
type Dialer struct {
	cfg       func() *pgx.ConnConfig // parsed once; never changed after NewDialer
	server    string
	userFor   func(actors.DialRequest) string
	connector []stdlib.OptionOpenDB
	// keepSession: WithoutSessionReset; no reset and no sessionConn.
	keepSession bool
}

// Option configures a Dialer.
type Option func(*Dialer)

// WithUser sets the login name per dial. For Azure Database for PostgreSQL it
// maps a token identity to its Entra principal's name (a user's UPN, a managed
// identity's or group's display name). An empty result keeps the DSN's user.
// f runs on the pool's dial goroutine and must not block.
func WithUser(f func(req actors.DialRequest) string) Option {
	return func(d *Dialer) { d.userFor = f }
}

// WithConnectorOptions passes options to pgx's stdlib connector, such as
// stdlib.OptionAfterConnect to run code once per physical connection. Leave
// OptionBeforeConnect alone: it could replace the login the dialer chose.
// OptionResetSession and OptionShouldPing are overridden, with or without
// WithoutSessionReset (the caller's functions are never called). By default
// the session is reset on every release, which also undoes any SET an
// AfterConnect ran; give session settings as runtime parameters in the DSN
// (or ALTER ROLE ... SET), which the reset restores.
func WithConnectorOptions(opts ...stdlib.OptionOpenDB) Option {
	return func(d *Dialer) { d.connector = append(d.connector, opts...) }
}

// WithLoginUser logs every token identity in as user, whatever the DSN's
// user: on Azure Database for PostgreSQL, the name of the one Entra
// principal all of them are (a managed identity's name, say). A SQL login
// keeps the DSN's user, whose password it logs in with. "" keeps the DSN's
// user. It replaces an earlier WithUser or WithLoginUser; for one login per
// identity use WithUser.
func WithLoginUser(user string) Option {
	return WithUser(func(req actors.DialRequest) string {
		if req.Identity.UsesToken() {
			return user
		}
		return ""
	})
}

// NewDialer parses dsn (a URL or key=value string, as pgx.ParseConfig takes)
// once. Its errors never quote the DSN. A pgxpool pool parameter in the DSN
// (pool_max_conns, ...) is refused with an error naming it: a Dialer builds
// no pool; OpenDB and OpenPool honour them.
func NewDialer(dsn string, opts ...Option) (*Dialer, error) {
	cfg, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if p := takePoolParams(cfg.RuntimeParams); len(p.names) > 0 {
		return nil, errPoolParamsNeedAPool(p.names)
	}
	return newDialer(cfg, opts)
}

// newDialer builds a Dialer for a parsed DSN without pool parameters.
func newDialer(cfg *pgx.ConnConfig, opts []Option) (*Dialer, error) {
	server, err := serverKey(cfg)
	if err != nil {
		return nil, err
	}
	d := &Dialer{cfg: func() *pgx.ConnConfig { return cfg }, server: server}
	for _, opt := range opts {
		if opt != nil { // a nil Option, as OpenDB skips a nil OpenOption
			opt(d)
		}
	}
	d.connector = append(d.connector, sessionOptions(d.keepSession)...)
	return d, nil
}

// ServerKey returns the server part of pool keys for this dialer's DSN (see
// the package function ServerKey).
func (d *Dialer) ServerKey() string { return d.server }

// Dial opens one connection for req and returns it as a *stdlib.Conn. A token
// identity logs in with req.Token.Value as its password; a SQL login with the
// DSN's password. The conn's ResetSession resets the session fully (see
// resetSession), so state set by one lease never reaches the next, unless
// the Dialer was built WithoutSessionReset.
func (d *Dialer) Dial(ctx context.Context, req actors.DialRequest) (driver.Conn, error) {
	if ctx == nil {
		return nil, nilContextError("Dialer.Dial")
	}
	// The zero Identity must never fall back to the DSN's password.
	if err := req.Identity.Validate(); err != nil {
		return nil, fmt.Errorf("postgres: refusing to dial: %w", err)
	}
	cfg := d.cfg().Copy()
	if req.Identity.UsesToken() {
		if req.Token.IsZero() {
			return nil, ErrNoToken
		}
		tok := req.Token.Value
		cfg.Password = tok
		// A server offering OAUTHBEARER (PostgreSQL 18) gets the same token
		// that way; older servers and Azure ask for a password and never
		// call this.
		cfg.OAuthTokenProvider = func(context.Context) (string, error) { return tok, nil }
	}
	if d.userFor != nil {
		if u := d.userFor(req); u != "" {
			cfg.User = u
		}
	}
	if !d.keepSession {
		// Without the reset there is nothing to defer, so no wrapper:
		// pgx reads and writes the connection directly.
		cfg.AfterNetConnect = wrapSession(cfg.AfterNetConnect, cfg.DefaultQueryExecMode == pgx.QueryExecModeCacheDescribe)
	}
	conn, err := stdlib.GetConnector(*cfg, d.connector...).Connect(ctx)
	if err != nil {
		return nil, wrapDialErr(d.server, err, cfg.Password, d.cfg().Password, req.Token.Value)
	}
	return conn, nil
}

var (
	_ actors.Dialer      = (*Dialer)(nil)
	_ manager.CtxBounded = (*Dialer)(nil)
)

// AbortTransport closes the network connection under conn, a *stdlib.Conn
// (this Dialer's, or any pgx stdlib connection), so that a read or write
// blocked on it fails at once; conn itself is closed later, by the pool.
// It reports whether conn was a pgx connection. The pool calls it
// (manager.Aborter) where no ctx bounds a wait: the Close that Release makes
// of a result set left open (at once: see manager.CtxBounded), and the
// rollback it makes of a transaction left open, which pgx bounds only by
// the BeginTx's ctx (none, with context.Background()), once
// manager.Config.CancelGrace has passed since Release began it; a health
// check still running CancelGrace past its ValidateTimeout (pgx returns at
// that ctx, so in practice none); and at a forced Close. It closes the TCP
// (or unix) connection itself, under TLS and this package's session
// wrapper, so that it never waits for a TLS close_notify write. It takes no lock and does not block.
func (d *Dialer) AbortTransport(conn driver.Conn) bool {
	sc, ok := conn.(*stdlib.Conn)
	if !ok || sc == nil || sc.Conn() == nil {
		return false
	}
	nc := sc.Conn().PgConn().Conn()
	if s, ok := nc.(*sessionConn); ok {
		nc = s.Conn
	}
	if t, ok := nc.(*tls.Conn); ok {
		nc = t.NetConn()
	}
	_ = nc.Close()
	return true
}

// EndsCallsAtCtx reports that pgx ends every call once its ctx ends (a
// deadline on its socket, at once), so the Manager watches none of its
// calls (manager.CtxBounded): AbortTransport serves only the waits no ctx
// bounds.
func (d *Dialer) EndsCallsAtCtx() bool { return true }

// wrapSession returns an AfterNetConnect hook that runs next (if any) and
// puts a sessionConn, which lets releases defer the session reset, over the
// connection it returns. describes says that pgx caches the descriptions
// of unnamed statements on it (see requestWatch.unnamedKept).
func wrapSession(next func(context.Context, *pgconn.Config, net.Conn) (net.Conn, error), describes bool) func(context.Context, *pgconn.Config, net.Conn) (net.Conn, error) {
	return func(ctx context.Context, cfg *pgconn.Config, c net.Conn) (net.Conn, error) {
		if next != nil {
			var err error
			if c, err = next(ctx, cfg, c); err != nil {
				return nil, err
			}
		}
		sc := newSessionConn(c)
		sc.out.unnamedKept = describes
		return sc, nil
	}
}

// String names the server only. Value receivers, here and below, so that a
// Dialer copied by value is as safe as a pointer to one.
func (d Dialer) String() string { return "postgres.Dialer(" + d.server + ")" }

// GoString keeps %#v from dumping the fields.
func (d Dialer) GoString() string { return d.String() }

// Format prints the redacted form for every verb.
func (d Dialer) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(d.String())) }

// LogValue implements slog.LogValuer with the redacted form.
func (d Dialer) LogValue() slog.Value { return slog.StringValue(d.String()) }

// MarshalJSON writes the redacted form.
func (d Dialer) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// MarshalText writes the redacted form.
func (d Dialer) MarshalText() ([]byte, error) { return []byte(d.String()), nil }
