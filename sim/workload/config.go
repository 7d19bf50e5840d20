package workload

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Config is one simulation run. Zero values are not defaults: start from
// Default() and change what you need.
type Config struct {
	// Seed feeds every random draw of the run.
	Seed uint64
	// Duration is how long arrivals go on (virtual time in virtual mode).
	Duration time.Duration
	// Ops stops arrivals after this many acquires, if positive.
	Ops int64

	// Identities is how many named identities share the server; their
	// popularity follows a Zipf law with exponent ZipfS (> 1): a few are hot,
	// most are rare.
	Identities int
	ZipfS      float64
	// OneShot is the fraction of acquires made as a brand-new identity that
	// is never seen again (a signed-in user passing through), which creates
	// a pool that must later retire.
	OneShot float64

	// Arrival is "closed" (Workers loop: acquire, hold, release, think) or
	// "poisson" (acquires arrive at Rate per second, however many are open).
	Arrival string
	Workers int
	Rate    float64
	Think   Dist
	// Hold is how long a short query holds its connection (app work
	// included).
	Hold Dist
	// Mix weighs the operations run on each lease.
	Mix Mix
	// SlowQuery is how long a slow query (WAITFOR / SLEEP) runs.
	SlowQuery time.Duration
	// AcquireTimeout is each acquire's deadline.
	AcquireTimeout time.Duration

	Pool PoolSettings

	// TokenLifetime is how long a minted token is valid. The token endpoint,
	// like azidentity, hands back its cached token until TokenThreshold
	// before expiry, then mints a new one.
	TokenLifetime time.Duration
	// RotationRate is how often per second each identity's token is
	// rotated early at the endpoint (a key roll-over): the next mint returns
	// a new token while connections still hold the old one.
	RotationRate float64

	Latency Latencies
	Faults  Faults

	// InjectBug names a bug compiled into the harness (see Bugs); "" for
	// none.
	InjectBug string
}

// PoolSettings are the pool knobs, as in manager.Config.
type PoolSettings struct {
	MaxSize int
	// MaxTotal caps physical connections across all identities; 0: no cap.
	MaxTotal         int
	MinSize          int
	MaxWaiters       int
	IdleTimeout      time.Duration
	MaxLifetime      time.Duration
	HealthCheckAfter time.Duration
	TokenThreshold   time.Duration
	PoolIdleTimeout  time.Duration
	DialTimeout      time.Duration
	MintTimeout      time.Duration
	// DialBackoff and DialBackoffMax: the blocking period after a failed
	// dial or mint (see manager.Config).
	DialBackoff, DialBackoffMax time.Duration
}

// Latencies are how long the pool's blocking calls take.
type Latencies struct {
	Dial, Mint, Validate, Close Dist
	// Mailbox is the hop of one message between actors (virtual mode only).
	Mailbox time.Duration
}

// Faults are what goes wrong, and how often.
type Faults struct {
	// KillRate: server-side session kills per second (a random open
	// session dies).
	KillRate float64
	// RefuseLogin, DialError, SlowLogin: the fraction of dials refused at
	// login, failing at the network, or taking SlowLoginTime.
	RefuseLogin, DialError, SlowLogin float64
	SlowLoginTime                     time.Duration
	// OutageEvery and OutageFor: the token endpoint fails every mint for
	// OutageFor once every OutageEvery (0: never).
	OutageEvery, OutageFor time.Duration
}

// Default is the workload `idpool sim` runs with no flags: about 20
// seconds, scaled so that tokens, lifetimes, idle timeouts and pool
// retirement all happen several times within the run.
func Default() Config {
	return Config{
		Seed:           1,
		Duration:       20 * time.Second,
		Identities:     50,
		ZipfS:          1.2,
		OneShot:        0.002,
		Arrival:        "closed",
		Workers:        64,
		Rate:           20000,
		Think:          Dist{Kind: Exp, A: 200 * time.Microsecond},
		Hold:           Dist{Kind: Exp, A: time.Millisecond},
		Mix:            Mix{Select: 80, Commit: 10, Abandon: 5, Slow: 5},
		SlowQuery:      50 * time.Millisecond,
		AcquireTimeout: 2 * time.Second,
		Pool: PoolSettings{
			MaxSize:          10,
			IdleTimeout:      2 * time.Second,
			MaxLifetime:      10 * time.Second,
			HealthCheckAfter: time.Second,
			TokenThreshold:   2 * time.Second,
			PoolIdleTimeout:  3 * time.Second,
			DialTimeout:      time.Second,
			MintTimeout:      time.Second,
			DialBackoff:      200 * time.Millisecond,
			DialBackoffMax:   10 * time.Second,
		},
		TokenLifetime: 8 * time.Second,
		RotationRate:  0.02,
		Latency: Latencies{
			Dial:     Dist{Kind: Uniform, A: 2 * time.Millisecond, B: 6 * time.Millisecond},
			Mint:     Dist{Kind: Uniform, A: 5 * time.Millisecond, B: 15 * time.Millisecond},
			Validate: Dist{Kind: Const, A: 200 * time.Microsecond},
			Close:    Dist{Kind: Const, A: 100 * time.Microsecond},
			Mailbox:  2 * time.Microsecond,
		},
		Faults: Faults{
			KillRate:      2,
			RefuseLogin:   0.005,
			DialError:     0.005,
			SlowLogin:     0.01,
			SlowLoginTime: 300 * time.Millisecond,
			OutageEvery:   7 * time.Second,
			OutageFor:     500 * time.Millisecond,
		},
	}
}

// Validate names every unusable setting.
func (c Config) Validate() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if c.Duration <= 0 && c.Ops <= 0 {
		bad("duration or ops must be positive")
	}
	if c.Identities < 1 {
		bad("identities must be at least 1 (got %d)", c.Identities)
	}
	if c.ZipfS <= 1 {
		bad("zipf exponent must be above 1 (got %g)", c.ZipfS)
	}
	if c.OneShot < 0 || c.OneShot > 1 {
		bad("one-shot fraction must be in [0,1] (got %g)", c.OneShot)
	}
	switch c.Arrival {
	case "closed":
		if c.Workers < 1 {
			bad("workers must be at least 1 (got %d)", c.Workers)
		}
	case "poisson":
		if c.Rate <= 0 {
			bad("rate must be positive for poisson arrivals (got %g)", c.Rate)
		}
	default:
		bad("arrival must be closed or poisson (got %q)", c.Arrival)
	}
	if err := c.Mix.validate(); err != nil {
		bad("%v", err)
	}
	if c.AcquireTimeout <= 0 {
		bad("acquire timeout must be positive")
	}
	p := c.Pool
	if p.MaxSize < 1 {
		bad("max size must be at least 1 (got %d)", p.MaxSize)
	}
	if p.MinSize < 0 || p.MinSize > p.MaxSize {
		bad("min size must be in [0, max size] (got %d)", p.MinSize)
	}
	if p.MaxTotal < 0 || p.MaxWaiters < 0 {
		bad("max total and max waiters must not be negative")
	}
	if p.DialTimeout <= 0 || p.MintTimeout <= 0 {
		bad("dial and mint timeouts must be positive")
	}
	if c.TokenLifetime <= p.TokenThreshold {
		bad("token lifetime (%s) must exceed the token threshold (%s)", c.TokenLifetime, p.TokenThreshold)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"refuse-login", c.Faults.RefuseLogin}, {"dial-error", c.Faults.DialError}, {"slow-login", c.Faults.SlowLogin}} {
		if f.v < 0 || f.v > 1 {
			bad("%s must be a fraction in [0,1] (got %g)", f.name, f.v)
		}
	}
	if c.Faults.KillRate < 0 || c.RotationRate < 0 {
		bad("rates must not be negative")
	}
	if c.InjectBug != "" {
		if _, ok := LookupBug(c.InjectBug); !ok {
			bad("unknown bug %q (known: %s)", c.InjectBug, strings.Join(BugNames(), ", "))
		}
	}
	if len(errs) > 0 {
		return errors.New("invalid workload: " + strings.Join(errs, "; "))
	}
	return nil
}
