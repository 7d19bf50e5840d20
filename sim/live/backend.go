package live

import (
	"context"
	"time"

	"github.com/idpool/idpool/sim/report"
	"github.com/idpool/idpool/sim/workload"
)

// Backend is what live mode runs against: a server (embedded or real),
// token endpoints, and an idpool manager in front of them.
type Backend interface {
	// Name says what the backend is, for the report.
	Name() string
	// Start brings the server, the endpoints and the manager up for cfg.
	Start(ctx context.Context, cfg workload.Config) error
	// Identity returns the identity called name (created on first use).
	Identity(name string) Identity
	// Do runs op as id: acquire, statements, hold, release. It calls
	// obs.Granted once a connection is leased and obs.Releasing before it
	// is handed back.
	Do(ctx context.Context, id Identity, op Op, obs Observer) Outcome
	// Gauges reads the pools' current state.
	Gauges() Gauges
	// Faults returns the backend's fault switches.
	Faults() Faults
	// Close closes the manager, then checks and stops the server.
	Close(ctx context.Context) (Final, error)
}

// Identity is one principal as the backend knows it.
type Identity interface {
	// Name is the workload's name for it.
	Name() string
	// Login is the name the server reports for its sessions (what SELECT
	// SUSER_SNAME() returns).
	Login() string
}

// Op is one operation with its drawn durations.
type Op struct {
	Kind workload.Op
	Hold time.Duration
	Slow time.Duration
	// CtxDeadline: bound the acquire with a ctx deadline rather than the
	// manager's AcquireTimeout (the runner alternates, to cover both).
	CtxDeadline bool
}

// Observer hears about each lease as it happens.
type Observer interface {
	Granted(session int64, wait time.Duration)
	Releasing(session int64)
}

// Outcome is how one operation went.
type Outcome struct {
	// Granted: a connection was leased; Wait is how long the acquire took.
	Granted bool
	Wait    time.Duration
	Session int64
	// LoggedInAs is what the server said the session's login is.
	LoggedInAs string
	// DirtyTx: the lease began inside a transaction its previous user left
	// open.
	DirtyTx bool
	// AcquireErr is why the acquire failed; OpErr why a statement did.
	AcquireErr, OpErr error
	// StaleUse describes a call made on the lease after its release that
	// reached the connection (stale_lease_use); empty when the lease guard
	// refused it, as it must.
	StaleUse string
}

// Gauges are the pools' state now.
type Gauges struct {
	Pools, Open, Waiters int
	TokenMints           uint64
}

// Faults are the switches the runner's fault schedule flips.
type Faults interface {
	// KillSession kills a random open session at the server; false if
	// there was none.
	KillSession() bool
	// TokenOutage starts or ends an outage of every token endpoint.
	TokenOutage(on bool)
	// RotateToken rolls identity name's token over at its endpoint.
	RotateToken(name string)
}

// Final is what the backend found and counted over the run.
type Final struct {
	Stats struct {
		Hits, PhysicalOpens, TokenMints, Rotations, StaleDrained uint64
		PoolsCreated, PoolsRetired                               uint64
		Closes                                                   map[string]uint64
	}
	// Violations found server-side: OverMax, ExpiredTokenUse, LeakedConns.
	Violations report.Violations
	// Samples describe the violations: every counter above zero has at
	// least one.
	Samples []string
	// Suspects are what the backend's checks saw but cannot pin on the pool
	// (nil for none).
	Suspects *suspects
}
