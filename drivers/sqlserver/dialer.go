package sqlserver

import (
	"context"
	"crypto/tls"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/microsoft/go-mssqldb/msdsn"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// Dialer opens go-mssqldb connections for the pool. It implements
// actors.Dialer and is safe for concurrent use.
//
// A Dialer prints redacted (server key only) with every fmt verb, by value
// and by pointer, through slog and through encoding/json and text encoders.
// Its secrets are reachable only through a closure, so even a dump that
// cannot call those methods (a Dialer in an unexported field of another
// struct, where fmt prints fields raw, following pointers for %s) prints a
// function address, never the DSN's password.
type Dialer struct {
	serverKey string
	secrets   func() *dialerSecrets
}

// dialerSecrets is what a Dialer must never print.
type dialerSecrets struct {
	// cfg is the parsed DSN. Each dial works on a copy, so nothing the
	// driver does to its config reaches another connection.
	cfg msdsn.Config
	// scrub lists the DSN's password forms, scrubbed from error text.
	scrub []string
	// open holds the connections the Dialer opened and has not closed
	// (CloseConn) nor go-mssqldb either, cut or not, for AbortTransport
	// and CloseConn.
	open openConns
}

var (
	_ actors.Dialer        = (*Dialer)(nil)
	_ manager.Aborter      = (*Dialer)(nil)
	_ manager.ConnCloser   = (*Dialer)(nil)
	_ manager.ResetTracker = (*Dialer)(nil)
	_ manager.TxReporter   = (*Dialer)(nil)
)

// Option configures a Dialer.
type Option func(*Dialer)

// WithTLSConfig sets the TLS configuration used for encrypted connections,
// instead of the one the DSN's certificate parameters describe. It is cloned
// for every dial (go-mssqldb writes into it under encrypt=strict).
func WithTLSConfig(c *tls.Config) Option {
	return func(d *Dialer) { d.secrets().cfg.TLSConfig = c.Clone() }
}

// ErrNoToken is returned when a token identity is dialled without a token;
// the dialer never mints one itself.
var ErrNoToken = errors.New("sqlserver: a token identity was dialled without a token")

// ErrInvalidIdentity is returned when a request carries an invalid identity
// (the zero tokens.Identity among them): it must never fall back to the
// DSN's SQL credentials. It wraps tokens.ErrInvalidIdentity.
var ErrInvalidIdentity = fmt.Errorf("sqlserver: refusing to dial: %w", tokens.ErrInvalidIdentity)

// errZeroDialer is what a Dialer not made by NewDialer (sqlserver.Dialer{},
// new(sqlserver.Dialer)) answers: it has no DSN, and its Dial used to fail
// as a nil pointer dereference that the pool reported as a dialer panic.
var errZeroDialer = errors.New("sqlserver: the Dialer has no DSN: make it with NewDialer")

// ErrUnexpectedToken is returned when a SQL-login identity is dialled with a
// token, which would otherwise be silently ignored.
var ErrUnexpectedToken = errors.New("sqlserver: a SQL-login identity was dialled with a token")

// NewDialer parses dsn (any form go-mssqldb accepts) once.
func NewDialer(dsn string, opts ...Option) (*Dialer, error) {
	secrets := dsnSecrets(dsn)
	cfg, err := parseDSN(dsn)
	if err != nil {
		return nil, invalidDSN(err, secrets)
	}
	sec := &dialerSecrets{cfg: cfg, scrub: secrets}
	d := &Dialer{serverKey: serverKeyOf(cfg), secrets: func() *dialerSecrets { return sec }}
	for _, o := range opts {
		o(d)
	}
	return d, nil
}

// Dial opens one physical connection for req. A token identity logs in with
// req.Token.Value and nothing else; a SQL login uses the DSN's credentials.
// The returned connection is a *mssql.Conn; it has not run any request yet.
func (d *Dialer) Dial(ctx context.Context, req actors.DialRequest) (driver.Conn, error) {
	if ctx == nil {
		return nil, fmt.Errorf("sqlserver: Dialer.Dial: %w", manager.ErrNilContext)
	}
	if d.secrets == nil {
		return nil, errZeroDialer
	}
	if err := req.Identity.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidIdentity, err)
	}
	cfg := d.secrets().cfg
	if cfg.TLSConfig != nil {
		cfg.TLSConfig = cfg.TLSConfig.Clone()
	}
	var connector *mssql.Connector
	if req.Identity.UsesToken() {
		if req.Token.IsZero() {
			return nil, fmt.Errorf("sqlserver: dial %s: %w", req.Key.Redacted(), ErrNoToken)
		}
		// A token login must never also carry the DSN's SQL credentials;
		// go-mssqldb sends a "change password" in every LOGIN7.
		cfg.User, cfg.Password, cfg.ChangePassword = "", "", ""
		value := req.Token.Value
		c, err := mssql.NewSecurityTokenConnector(cfg, func(context.Context) (string, error) { return value, nil })
		if err != nil {
			return nil, d.dialError(req, err)
		}
		connector = c
	} else {
		if !req.Token.IsZero() {
			return nil, fmt.Errorf("sqlserver: dial %s: %w", req.Key.Redacted(), ErrUnexpectedToken)
		}
		connector = mssql.NewConnectorConfig(cfg)
	}
	guard := newLoginGuard(ctx, cfg.KeepAlive)
	connector.Dialer = guard
	conn, err := connector.Connect(ctx)
	if !guard.finish() {
		// The ctx ended first and the guard closed the connection: whatever
		// the driver said then (a read on a closed connection) is its echo.
		if err == nil {
			_ = conn.Close()
		}
		err = fmt.Errorf("login not finished when the dial's ctx ended: %w", context.Cause(ctx))
	}
	if err != nil {
		return nil, d.dialError(req, err, req.Token.Value)
	}
	if ts := guard.transports(); len(ts) > 0 {
		// A connection go-mssqldb dialed on its own (a protocol that does
		// not use the Connector's Dialer: named pipes, shared memory on
		// Windows) has no socket the Dialer could close: it stays unknown,
		// so that CloseConn closes it by its own Close and nothing keeps
		// it in the set.
		d.secrets().open.add(conn, ts)
	}
	return conn, nil
}

// AbortTransport closes the network connection under conn, one this Dialer
// opened, so that a call blocked on it fails at once: go-mssqldb waits up
// to 5 s, twice, for a server to confirm a cancelled call, and indefinitely
// for the reply to a call whose ctx never ends. The pool calls it for a
// call still running manager.Config.CancelGrace after its ctx ended, and
// for the Close of a result set or the rollback of a transaction left open
// still running CancelGrace after Release began it, whatever its ctx
// (manager.Aborter), then closes conn. It reports whether conn was open.
// What go-mssqldb writes to conn after the cut is taken and not sent, so
// that the attention of a cancel or of a result set's Close is followed by
// the drain that ends go-mssqldb's response reader (see transport.Write).
func (d *Dialer) AbortTransport(conn driver.Conn) bool {
	if d.secrets == nil {
		return false
	}
	return d.secrets().open.abort(conn)
}

// CloseConn closes conn, one this Dialer opened, by closing its network
// connections, and never calls go-mssqldb's Conn.Close on it. The pool
// closes every connection of the Dialer this way (manager.ConnCloser),
// whatever the reason and whatever CancelGrace. go-mssqldb's Close is two
// steps: it gives the connection's 64 KiB read and write buffer back to a
// pool every connection in the process shares, then closes its transport.
// A response reader it left running (a call cancelled on a server that
// never confirmed: go-mssqldb gives up waiting after 5 s and leaves its
// reader blocked on the socket) could read the old server's bytes into that
// buffer after the next connection opened, perhaps another identity's, had
// taken it: closing the socket first is not enough over TLS, where the
// reader decrypts into the buffer after its socket read has returned. So
// the buffer is never handed on: it goes with the connection, to the
// garbage collector, and the reader, whose next read fails, finds nothing
// of another connection's in it. Nothing is lost on the wire: go-mssqldb's
// Close sends nothing (no logout; over TLS, a close_notify alert the server
// does not need). A connection this Dialer does not know (another's, one
// the zero Dialer was given, or one go-mssqldb dialed without the Dialer's
// network dialer: a protocol of its own, such as named pipes) is closed by
// its own Close.
func (d *Dialer) CloseConn(conn driver.Conn) error {
	if d.secrets != nil && (d.secrets().open.closeConn(conn) || d.secrets().open.wasClosedByDriver(conn)) {
		// Known, or closed already by go-mssqldb's own Close (a user's
		// Close of Lease.Raw's connection), which handed the buffer on:
		// a second Close would hand it on again, to two connections.
		return nil
	}
	return conn.Close()
}

// SessionReset implements manager.ResetTracker: the pool calls it once
// go-mssqldb's ResetSession has flagged conn for a reset, which the next
// request carries to the server. The Dialer notes how much conn has
// written by then.
func (d *Dialer) SessionReset(conn driver.Conn) {
	if d.secrets != nil {
		d.secrets().open.armed(conn)
	}
}

// CallFailed implements manager.ResetTracker. go-mssqldb clears its reset
// flag as it starts to build a request, before it encodes the arguments: a
// call that fails there (an argument's Value that fails, a table-valued
// parameter it cannot encode) sends nothing, and without the flag the
// lease's next request ran in the session as the last lease had left it
// (its temporary tables, SET options, CONTEXT_INFO, an open transaction).
// When conn has written nothing since the reset was flagged, whatever the
// error, no request has carried it, so CallFailed flags it again; once a
// request went out, the reset went with it, and nothing is flagged. The
// pool also calls it with a nil error after calls whose errors it did not
// see (a PrepareConn or AfterRelease hook's, a WithRaw function's that
// returned nil): flagging a connection whose flag is still set changes
// nothing.
func (d *Dialer) CallFailed(conn driver.Conn, _ error) {
	if d.secrets == nil || !d.secrets().open.unsentReset(conn) {
		return
	}
	if r, ok := conn.(driver.SessionResetter); ok {
		// No I/O: this package's connectors run no SessionInitSQL.
		_ = r.ResetSession(context.Background())
	}
}

// ServerKey returns host:port/database of the dialer's DSN (see ServerKey).
func (d *Dialer) ServerKey() string { return d.serverKey }

// String names the server only; the DSN's credentials never print. Value
// receivers, here and below, so that a Dialer copied by value is as safe as
// a pointer to one.
func (d Dialer) String() string { return "sqlserver.Dialer(" + d.serverKey + ")" }

// GoString keeps %#v from printing the parsed DSN.
func (d Dialer) GoString() string { return d.String() }

// Format prints the redacted form for every verb.
func (d Dialer) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(d.String())) }

// LogValue implements slog.LogValuer with the redacted form.
func (d Dialer) LogValue() slog.Value { return slog.StringValue(d.String()) }

// MarshalJSON writes the redacted form.
func (d Dialer) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// MarshalText writes the redacted form.
func (d Dialer) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// dialError wraps a driver error for the pool. The text is scrubbed of the
// DSN's password and of the token; errors.Is/As still reach the cause (for
// example mssql.Error with Number 18456).
func (d *Dialer) dialError(req actors.DialRequest, err error, extra ...string) error {
	return &DialError{
		Server: d.serverKey,
		Pool:   req.Key.Redacted(),
		msg:    scrub(err.Error(), append(append([]string(nil), d.secrets().scrub...), extra...)),
		err:    err,
	}
}

// DialError is a failed dial. Its message names the server and the pool (in
// redacted form) and never contains a password or token.
type DialError struct {
	// Server is host:port/database.
	Server string
	// Pool is the redacted pool key.
	Pool string
	msg  string
	err  error
}

// Error implements error.
func (e DialError) Error() string {
	return fmt.Sprintf("sqlserver: dial %s for pool %s: %s", e.Server, e.Pool, e.msg)
}

// Unwrap returns the driver's error.
func (e DialError) Unwrap() error { return e.err }

// GoString keeps %#v to the scrubbed message: the driver's error inside may
// quote the password. Value receivers, like Format, so that a copied
// DialError is as safe as the pointer the dialer returns.
func (e DialError) GoString() string { return e.Error() }

// Format prints the scrubbed message for every verb.
func (e DialError) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(e.Error())) }
