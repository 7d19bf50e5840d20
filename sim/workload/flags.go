package workload

import (
	"flag"
	"fmt"
	"strings"
)

// RegisterFlags binds every workload setting to a flag of fs, with c's
// current values as defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed of every random draw")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "how long arrivals go on (virtual time in virtual mode)")
	fs.Int64Var(&c.Ops, "ops", c.Ops, "stop after this many acquires, or at --duration if that comes first (0: run for --duration; --duration 0: run for exactly this many)")

	fs.IntVar(&c.Identities, "identities", c.Identities, "number of named identities")
	fs.Float64Var(&c.ZipfS, "zipf", c.ZipfS, "Zipf exponent of identity popularity (>1; higher: more skewed)")
	fs.Float64Var(&c.OneShot, "one-shot", c.OneShot, "fraction of acquires made as a new identity never seen again")

	fs.StringVar(&c.Arrival, "arrival", c.Arrival, "arrival pattern: closed (workers loop) or poisson (--rate per second)")
	fs.IntVar(&c.Workers, "workers", c.Workers, "concurrent workers (closed loop)")
	fs.Float64Var(&c.Rate, "rate", c.Rate, "acquires per second (poisson arrivals)")
	fs.Var(&c.Think, "think", "pause between a worker's operations (const:D, exp:MEAN, uniform:LO:HI)")
	fs.Var(&c.Hold, "hold", "how long a short query holds its connection")
	fs.Var(&c.Mix, "mix", "query mix weights: select, commit, abandon (transaction left open), slow (WAITFOR)")
	fs.DurationVar(&c.SlowQuery, "slow-query", c.SlowQuery, "duration of a slow query")
	fs.DurationVar(&c.AcquireTimeout, "acquire-timeout", c.AcquireTimeout, "deadline of each acquire")

	p := &c.Pool
	fs.IntVar(&p.MaxSize, "max-size", p.MaxSize, "pool max size (per identity)")
	fs.IntVar(&p.MaxTotal, "max-total", p.MaxTotal, "cap on connections across all identities (0: none)")
	fs.IntVar(&p.MinSize, "min-size", p.MinSize, "pool min size")
	fs.IntVar(&p.MaxWaiters, "max-waiters", p.MaxWaiters, "queue cap per pool (0: unlimited)")
	fs.DurationVar(&p.IdleTimeout, "idle-timeout", p.IdleTimeout, "close connections idle this long")
	fs.DurationVar(&p.MaxLifetime, "lifetime", p.MaxLifetime, "close connections this old")
	fs.DurationVar(&p.HealthCheckAfter, "health-check-after", p.HealthCheckAfter, "validate connections idle at least this long before handing them out")
	fs.DurationVar(&p.TokenThreshold, "token-threshold", p.TokenThreshold, "re-check a connection's token this close to its expiry")
	fs.DurationVar(&p.PoolIdleTimeout, "pool-idle-timeout", p.PoolIdleTimeout, "retire a pool idle this long")
	fs.DurationVar(&p.DialTimeout, "dial-timeout", p.DialTimeout, "bound on each dial")
	fs.DurationVar(&p.MintTimeout, "mint-timeout", p.MintTimeout, "bound on each token mint")
	fs.DurationVar(&p.DialBackoff, "dial-backoff", p.DialBackoff, "blocking period after a failed dial or mint (0: none)")
	fs.DurationVar(&p.DialBackoffMax, "dial-backoff-max", p.DialBackoffMax, "longest blocking period")

	fs.DurationVar(&c.TokenLifetime, "token-lifetime", c.TokenLifetime, "lifetime of each minted token")
	fs.Float64Var(&c.RotationRate, "rotation-rate", c.RotationRate, "early token rotations per identity per second")

	l := &c.Latency
	fs.Var(&l.Dial, "dial-latency", "latency of a dial (login)")
	fs.Var(&l.Mint, "mint-latency", "latency of a token mint")
	fs.Var(&l.Validate, "validate-latency", "latency of a health check (virtual mode)")
	fs.Var(&l.Close, "close-latency", "latency of a close (virtual mode)")
	fs.DurationVar(&l.Mailbox, "mailbox-latency", l.Mailbox, "latency of one actor message hop (virtual mode)")

	f := &c.Faults
	fs.Float64Var(&f.KillRate, "kill-rate", f.KillRate, "server-side session kills per second")
	fs.Float64Var(&f.RefuseLogin, "refuse-login", f.RefuseLogin, "fraction of logins refused")
	fs.Float64Var(&f.DialError, "dial-error", f.DialError, "fraction of dials failing at the network")
	fs.Float64Var(&f.SlowLogin, "slow-login", f.SlowLogin, "fraction of logins that are slow")
	fs.DurationVar(&f.SlowLoginTime, "slow-login-time", f.SlowLoginTime, "how long a slow login takes")
	fs.DurationVar(&f.OutageEvery, "outage-every", f.OutageEvery, "a token endpoint outage starts this often (0: never)")
	fs.DurationVar(&f.OutageFor, "outage-for", f.OutageFor, "how long each token endpoint outage lasts")

	fs.StringVar(&c.InjectBug, "inject-bug", c.InjectBug, fmt.Sprintf("inject a harness bug the checker must catch: %s", strings.Join(BugNames(), ", ")))
}

// NoFaults turns every fault off (tests and calm runs).
func (c *Config) NoFaults() {
	c.Faults = Faults{}
	c.RotationRate = 0
}
