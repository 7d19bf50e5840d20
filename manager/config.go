package manager

import (
	"context"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/internal/typednil"
	"github.com/idpool/idpool/tokens"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Dialer opens physical connections; see actors.Dialer.
type Dialer = actors.Dialer

// DialRequest is what a Dialer is asked to open; see actors.DialRequest.
type DialRequest = actors.DialRequest

// DialerFunc adapts a function to Dialer.
type DialerFunc = actors.DialerFunc

// ConnCloser is implemented by a Dialer whose connections the pool must
// close through the Dialer rather than by their own Close; see
// actors.ConnCloser. Unlike Aborter it does not depend on CancelGrace: with
// one, every close of the Dialer's connections goes through CloseConn,
// after the BeforeClose hook, and so does the close of a connection an
// AfterConnect hook refused. drivers/sqlserver's Dialer is one (go-mssqldb's
// Close hands the connection's buffer on before it closes the socket);
// drivers/postgres's is not (pgx's Close says goodbye to the server first).
type ConnCloser = actors.ConnCloser

// Clock supplies time to the pools; see actors.Clock.
type Clock = actors.Clock

// Config configures a Manager. Zero values take the defaults listed on each
// field. For the optional timers a negative value turns the feature off.
type Config struct {
	// Server names the server the pools connect to, e.g. "sql1:1433/appdb".
	// It is the first half of every pool key and appears (redacted keys
	// only) in errors, so it must not carry credentials. Required.
	Server string
	// Dialer opens physical connections. Required.
	Dialer Dialer

	// MaxSize caps each pool's sessions: open connections, dials in flight
	// or waiting for a token or a MaxTotal permit, and connections whose
	// close has not finished (the server still counts them). Default 10.
	MaxSize int
	// MinSize connections are opened when a pool starts and kept open until
	// it retires (PoolIdleTimeout closes them too). Default 0.
	MinSize int
	// MaxWaiters caps each pool's queue; further acquires fail at once with
	// ErrPoolExhausted. Default 0: unlimited.
	MaxWaiters int

	// AcquireTimeout bounds an Acquire whose ctx has no deadline. A ctx
	// deadline always wins. Default 30s; negative: ctx only.
	AcquireTimeout time.Duration
	// DialTimeout bounds each dial; a dial it cuts fails with an error that
	// names it, wrapping what the Dialer returned. Default 15s.
	DialTimeout time.Duration
	// IdleTimeout closes connections idle this long, down to MinSize.
	// Default 5m; negative: never.
	IdleTimeout time.Duration
	// MaxLifetime closes connections this old. Default 30m; negative: never.
	MaxLifetime time.Duration
	// LifetimeJitter shortens each connection's lifetime by a random amount
	// up to this, so connections opened together do not expire together.
	// Default MaxLifetime/10; negative: none.
	LifetimeJitter time.Duration
	// HealthCheckAfter: a connection idle at least this long is validated
	// (driver.Validator, then driver.Pinger) before it is handed out.
	// Default 1s; negative: never.
	HealthCheckAfter time.Duration
	// ValidateTimeout bounds each health check. Default 5s.
	ValidateTimeout time.Duration
	// CancelGrace bounds how long a call on a leased connection may run
	// past the end of its ctx: after it, the connection's transport is cut
	// under the call, which then fails, and Release closes the connection.
	// A health check running this long past its ValidateTimeout is cut
	// too, and fails. The Close that Release makes of a result set left
	// open, and the rollback it makes of a transaction left open, are cut
	// CancelGrace after Release began them, whatever the query's or the
	// BeginTx's ctx: Release ends what the caller left unfinished, and a
	// driver waits there under that ctx, which may never end
	// (context.Background()); the connection is then closed. A driver's
	// session reset at Release is handed CancelGrace as its bound
	// (ReleaseGrace): drivers/postgres's DISCARD ALL keeps to it. (With a
	// CtxBounded Dialer, drivers/postgres's, a result set left open is cut
	// at once: nothing needs the rest of its reply.)
	// A driver may otherwise wait for the server to confirm the cancel
	// (go-mssqldb up to 10 s against a server that stopped answering).
	// It needs a Dialer that is an Aborter (drivers/sqlserver's;
	// drivers/postgres's only for what Release ends (the result set or
	// transaction left open), a health check and a forced Close: pgx ends
	// its calls at their ctx itself, see
	// CtxBounded); with another it does nothing. Default 2s, as Npgsql's
	// Cancellation Timeout; negative: never cut.
	CancelGrace time.Duration

	// DialBackoff starts a blocking period after two dials or token mints in
	// a row failed:
	// for this long, doubling per consecutive failure up to DialBackoffMax
	// (with jitter), the pool opens nothing and acquires it cannot serve from
	// idle or soon-released connections fail at once with a *BlockedError
	// wrapping the last dial error, instead of hammering a refusing server.
	// The next successful dial ends it; a period begun by failed mints also
	// ends at the next successful mint, or when an acquire brings a new
	// credential. Defaults 200ms and 10s; negative DialBackoff: no blocking
	// period (a MinSize fill, which has no caller to fail, still waits 10s
	// after two failures in a row rather than dial again at once, for
	// ever, unless what would end a period comes first); negative
	// DialBackoffMax: no cap (the doubling stops at 2^20 times
	// DialBackoff, or saturates at about 146 years, never wrapping).
	DialBackoff    time.Duration
	DialBackoffMax time.Duration

	// TokenThreshold: a connection whose token expires within this is
	// re-checked at checkout and closed while idle, and a token minted with
	// less than this left (or no known expiry) is refused: the acquire fails
	// with an actors.TokenExpiryError. A token that had more than this left
	// when its mint began, and crossed it on the way (azidentity's cached
	// token at its 5-minute edge), is asked for once more; the acquire fails
	// only if that token is refused too. Default 5m (azidentity refreshes
	// cached tokens 5 minutes before expiry); lower it for a source whose
	// tokens live shorter. Do not raise it with an azidentity credential:
	// azidentity hands back its cached token until 5 minutes before it
	// expires, which a higher threshold would refuse at every dial in that
	// stretch of each token's life.
	TokenThreshold time.Duration
	// TokenRefreshAhead mints a new token in the background as soon as a
	// pool's newest token enters TokenThreshold (when azidentity hands out a
	// new one) and opens connections with it while it is fresh, so a busy
	// identity never waits on a mint at checkout. An acquire that brings
	// another credential drops that token: the next connection mints with
	// the new credential (see docs/OPERATIONS.md, "Rotating a credential").
	// It costs a mint per token lifetime per busy identity even when
	// nothing needs a new connection. Default off: tokens are minted only
	// to open connections.
	TokenRefreshAhead bool
	// MintTimeout bounds each token mint; a mint it cuts fails with an
	// error that names it, wrapping what the token source returned.
	// Default 30s.
	MintTimeout time.Duration

	// MaxTotal caps the connections open, dialing or still closing across
	// all pools (a server's session budget: a permit comes back only once
	// the close has finished). At the cap, a pool that needs a connection
	// makes the pool holding the most give one up (its oldest idle one, or
	// the next one released: with every connection of that pool leased,
	// the waiting pool waits for its next release, even while others sit
	// idle, see docs/OPERATIONS.md); pools waiting for room are served in
	// arrival order. Default 0: no global cap.
	MaxTotal int
	// Fleet is a session budget shared with other processes (replicas of
	// the service), such as package fleet's etcd budget: every physical
	// connection also holds one of its permits, taken after the MaxTotal
	// permit, from before its dial until its close has finished (see
	// SessionBudget and docs/FLEET.md). Default nil: no fleet budget.
	Fleet SessionBudget

	// PoolIdleTimeout retires a pool that had no acquire, no lease out and no
	// waiter for this long: it closes its connections (MinSize ones too) and
	// retires once every close has finished, so that a new pool for the
	// identity never opens sessions beside ones the server still counts.
	// Default 10m; negative: never.
	PoolIdleTimeout time.Duration

	// Hooks are optional callbacks at the points of a connection's life.
	Hooks Hooks

	// MeterProvider receives idpool's OpenTelemetry metrics (the
	// db.client.connection.* instruments and idpool.*; docs/OPERATIONS.md
	// lists them). Default: none, and the hot path pays one nil check.
	// Series are per server and identity kind unless MetricsPerPool.
	// Its histograms are recorded in the goroutines of Acquire, Release,
	// dials and token mints: a Record that panics loses that record and
	// nothing else, but one that blocks holds up that call (an Acquire
	// past its deadline) for as long as it blocks. The other instruments
	// are read in the SDK's collection, through idpool's callbacks (one, and
	// one more for a Fleet that implements SessionBudgetStats); idpool's
	// gives up when the collection's ctx ends, its figures missing, should
	// user code inside an actor (a Logger handler that blocks) hold it up.
	MeterProvider metric.MeterProvider
	// MetricsPerPool gives every identity pool series of its own, named by
	// its redacted key: one set per identity, so with many identities
	// mind the backend's cardinality (the OpenTelemetry SDK keeps 2,000
	// series per instrument unless told otherwise). A retired pool's
	// histogram series stay in the SDK under cumulative temporality (its
	// default), so identities that came and went count too, not only the
	// live ones (docs/OPERATIONS.md, Metrics). Default: series per server
	// and identity kind.
	MetricsPerPool bool
	// MetricsIdentityDetail names per-pool series by the full identity
	// (which may include client ids) rather than a redacted hash. It
	// implies MetricsPerPool.
	MetricsIdentityDetail bool
	// MetricsUseTime records db.client.connection.use_time, the time each
	// lease is held. It costs a clock read and a histogram record per
	// acquire and per release, the most expensive part of a pool hit with
	// metrics on, so it is off by default; Stats().Total.Busy and
	// db.client.connection.count{state=used} say how many are held.
	MetricsUseTime bool

	// TracerProvider receives idpool's OpenTelemetry spans: one per
	// Acquire, per physical dial (login) and per token mint, a dial or mint
	// started for an acquire being that acquire's child. Default: none, at
	// no cost; pass otel.GetTracerProvider() to use the global one. Its
	// tracers and spans are called in the goroutines of Acquire, dials and
	// token mints: a call that panics loses that span (or what it was
	// setting on it) and nothing else, but one that blocks holds up that
	// Acquire (past its deadline), dial or mint for as long as it blocks.
	TracerProvider trace.TracerProvider

	// Logger receives idpool's logs (and protoactor's warnings). Default:
	// nothing is logged. Its handler is called from inside the pool and
	// manager actors (and from the goroutines of Acquire, Release and
	// connection closes, and from the timer of a CancelGrace cut, after the
	// cut: the call it ends does not wait for the line): a panic of it
	// loses the record and nothing else, but a handler that blocks holds up
	// the actor it logs from for as long as it blocks: a pool and the
	// acquires waiting on it, or the manager, which every acquire of an
	// identity without a pool yet (and, with MaxTotal or Fleet, every new
	// connection) goes through. Close stays bounded by its
	// ctx (see Close), and says which figures it could not read; so does a
	// metrics collection (see MeterProvider).
	Logger *slog.Logger
	// Clock is for tests and simulations. Default: the system clock. The
	// actors read it as they take each message: a Now or AfterFunc that
	// panics is logged and answered by the system clock, so that no
	// message is lost to it.
	Clock Clock
	// Seed makes the pools' random draws (lifetime and backoff jitter)
	// reproducible. Default 0: random.
	Seed uint64

	// abort is the Dialer's AbortTransport (see Aborter), set by New when
	// the Dialer is one and CancelGrace is on: the pools bound their health
	// checks with it.
	abort func(driver.Conn) bool

	// mint runs each token mint in a span and a metric; New sets it when
	// either is on.
	mint func(context.Context, tokens.Key, tokens.Source) (tokens.Token, error)
}

// Defaults.
const (
	DefaultMaxSize          = 10
	DefaultAcquireTimeout   = 30 * time.Second
	DefaultDialTimeout      = 15 * time.Second
	DefaultIdleTimeout      = 5 * time.Minute
	DefaultMaxLifetime      = 30 * time.Minute
	DefaultHealthCheckAfter = time.Second
	DefaultValidateTimeout  = 5 * time.Second
	DefaultCancelGrace      = 2 * time.Second
	DefaultTokenThreshold   = 5 * time.Minute
	DefaultMintTimeout      = 30 * time.Second
	DefaultPoolIdleTimeout  = 10 * time.Minute
	DefaultDialBackoff      = 200 * time.Millisecond
	DefaultDialBackoffMax   = 10 * time.Second
)

// ConfigError lists every invalid field of a Config.
type ConfigError struct {
	Problems []string
}

// Error implements error.
func (e *ConfigError) Error() string {
	return "idpool: invalid Config: " + strings.Join(e.Problems, "; ")
}

func (c Config) validate() error {
	var problems []string
	bad := func(field, format string, args ...any) {
		problems = append(problems, field+": "+fmt.Sprintf(format, args...))
	}
	if c.Server == "" {
		bad("Server", "required (e.g. \"host:1433/db\")")
	} else if looksLikeDSN(c.Server) {
		bad("Server", "must name the server only, without credentials or DSN options")
	}
	if c.Dialer == nil {
		bad("Dialer", "required")
	}
	for _, f := range []struct {
		name string
		v    any
	}{{"Dialer", c.Dialer}, {"Fleet", c.Fleet}, {"MeterProvider", c.MeterProvider}, {"TracerProvider", c.TracerProvider}, {"Clock", c.Clock}} {
		if typednil.Is(f.v) {
			bad(f.name, "is a nil %T (a constructor's result kept after it returned an error?)", f.v)
		}
	}
	if c.MaxSize < 0 {
		bad("MaxSize", "must be at least 1 (got %d)", c.MaxSize)
	}
	if c.MinSize < 0 {
		bad("MinSize", "must not be negative (got %d)", c.MinSize)
	}
	if max := c.MaxSize; max == 0 && c.MinSize > DefaultMaxSize || max > 0 && c.MinSize > max {
		bad("MinSize", "must not exceed MaxSize (got %d > %d)", c.MinSize, c.withDefaults().MaxSize)
	}
	if c.MaxTotal < 0 {
		bad("MaxTotal", "must not be negative (got %d)", c.MaxTotal)
	}
	if c.MaxWaiters < 0 {
		bad("MaxWaiters", "must not be negative (got %d)", c.MaxWaiters)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"DialTimeout", c.DialTimeout}, {"ValidateTimeout", c.ValidateTimeout},
		{"TokenThreshold", c.TokenThreshold}, {"MintTimeout", c.MintTimeout}} {
		if d.v < 0 {
			bad(d.name, "must not be negative (got %s)", d.v)
		}
	}
	r := c.withDefaults()
	if r.MaxLifetime > 0 && r.LifetimeJitter >= r.MaxLifetime {
		bad("LifetimeJitter", "must be shorter than MaxLifetime (got %s >= %s)", r.LifetimeJitter, r.MaxLifetime)
	}
	if len(problems) > 0 {
		return &ConfigError{Problems: problems}
	}
	return nil
}

// looksLikeDSN catches a connection string passed where a server name goes,
// so credentials never end up in pool keys.
func looksLikeDSN(s string) bool {
	l := strings.ToLower(s)
	return strings.ContainsAny(s, "\x00;@ ") || strings.Contains(l, "password") || strings.Contains(l, "://")
}

// withDefaults resolves zero values to defaults and negative optional timers
// to zero (off), as the pools expect them.
func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		switch {
		case *v == 0:
			*v = d
		case *v < 0:
			*v = 0
		}
	}
	if c.MaxSize == 0 {
		c.MaxSize = DefaultMaxSize
	}
	def(&c.AcquireTimeout, DefaultAcquireTimeout)
	def(&c.DialTimeout, DefaultDialTimeout)
	def(&c.IdleTimeout, DefaultIdleTimeout)
	def(&c.MaxLifetime, DefaultMaxLifetime)
	def(&c.LifetimeJitter, c.MaxLifetime/10)
	def(&c.HealthCheckAfter, DefaultHealthCheckAfter)
	def(&c.ValidateTimeout, DefaultValidateTimeout)
	def(&c.CancelGrace, DefaultCancelGrace)
	def(&c.TokenThreshold, DefaultTokenThreshold)
	def(&c.MintTimeout, DefaultMintTimeout)
	def(&c.PoolIdleTimeout, DefaultPoolIdleTimeout)
	def(&c.DialBackoff, DefaultDialBackoff)
	def(&c.DialBackoffMax, DefaultDialBackoffMax)
	if c.Clock == nil {
		c.Clock = actors.SystemClock{}
	}
	if c.Fleet != nil && c.MaxTotal == 0 {
		c.MaxTotal = math.MaxInt // the fleet gate sits behind the permit book
	}
	return c
}
