package actors

import (
	"time"

	"github.com/idpool/idpool/tokens"
)

// PoolConfig is everything the state machine needs to decide. Durations here
// are already resolved: zero means "off" (the manager turns its own zero
// defaults into real values before they reach the pool).
type PoolConfig struct {
	// Key names the pool in errors and stats (printed redacted).
	Key tokens.Key
	// MinSize connections are opened at start and re-opened after evictions.
	MinSize int
	// MaxSize caps the pool's sessions (see Pool.size: open connections,
	// dial reservations, and closes not yet finished); at least 1.
	MaxSize int
	// MaxWaiters caps the queue; past it Acquire fails with ErrPoolExhausted.
	// Zero means unlimited.
	MaxWaiters int
	// IdleTimeout closes connections idle longer than this, down to MinSize.
	IdleTimeout time.Duration
	// MaxLifetime closes connections older than this, minus a random jitter in
	// [0, LifetimeJitter) drawn per connection so they do not all expire at once.
	MaxLifetime    time.Duration
	LifetimeJitter time.Duration
	// HealthCheckAfter pings (or validates) an idle connection before handing
	// it out when it has been idle at least this long.
	HealthCheckAfter time.Duration
	// TokenThreshold is how close to its token's expiry a connection may get
	// before checkout re-checks the token and the idle sweep closes it.
	TokenThreshold time.Duration
	// The flags sit together so that each pool's copy of this struct has no
	// padding after each of them (a pool's size matters by the thousand).

	// UsesToken says connections log in with a token from the pool's Source.
	UsesToken bool
	// RefreshAhead mints a new token in the background as soon as the
	// newest one enters TokenThreshold, while the pool has connections, and
	// dials with the newest token while it is good beyond the threshold, so
	// a busy identity never waits on a mint at checkout.
	RefreshAhead bool
	// NeedsPermit: a global cap is on, so every dial needs a permit from
	// the manager first (EffRequestPermit), and every closed connection or
	// failed dial hands its permit back (EffReturnPermit).
	NeedsPermit bool
	// RetireAfter: once the pool has had no acquire, no lease out and no
	// waiter for this long, it closes its connections (MinSize ones too)
	// and, when every close has finished, asks the manager to retire it.
	// Zero: never.
	RetireAfter time.Duration
	// DialBackoff starts a blocking period after consecutive failed dials or
	// mints (two in a row): for
	// that long (doubling per consecutive failure up to DialBackoffMax, with
	// +-20% jitter) the pool opens nothing, and acquires it cannot serve from
	// idle or soon-released connections fail at once with the last error,
	// instead of hammering a server that is refusing. The first success ends
	// it. Zero: no blocking period (the MinSize fill is still held for
	// fillRetryAfter after two failures in a row: see holdFailingFill).
	DialBackoff    time.Duration
	DialBackoffMax time.Duration
	// Seed feeds the lifetime jitter, so a run is reproducible.
	Seed uint64
}
