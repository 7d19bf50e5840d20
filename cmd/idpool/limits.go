package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/idpool/idpool/sim/workload"
)

// limit is the range of values a numeric flag accepts. Durations are given
// in nanoseconds. Every count, rate and duration a command takes has an
// upper bound: without one, --identities 1000000000000 or --workers
// 100000000 ran the machine out of memory (a stack trace, not an error),
// --fleet 100000 would start that many processes, and a virtual run given
// --acquire-timeout 1000h or --mailbox-latency 2m reported violations of a
// pool that did nothing wrong (the simulator closes its books a minute
// after the run).
type limit struct {
	min, max float64
	// hasMin: min is a bound (else only max is, and the flag's own checks
	// say what its least value is).
	hasMin bool
}

// atMost is the limit of a flag whose least value is checked elsewhere.
func atMost(max float64) limit { return limit{max: max} }

// between is the limit of a flag that takes min to max, both included.
func between(min, max float64) limit { return limit{min: min, max: max, hasMin: true} }

// limits maps flag names to their ranges.
type limits map[string]limit

// document adds each limited flag's range to its --help line, so that the
// bound a user meets is the one the help showed.
func (ls limits) document(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		l, ok := ls[f.Name]
		if !ok {
			return
		}
		isDur := isDurationFlag(f)
		switch {
		case l.hasMin:
			f.Usage += fmt.Sprintf(" (%s to %s)", fmtLimit(l.min, isDur), fmtLimit(l.max, isDur))
		case isDist(f):
			f.Usage += fmt.Sprintf(" (durations at most %s)", fmtLimit(l.max, true))
		default:
			f.Usage += fmt.Sprintf(" (at most %s)", fmtLimit(l.max, isDur))
		}
	})
}

// check refuses a flag set on the command line to a value outside its
// range, naming the flag, the value and the bound.
func (ls limits) check(fs *flag.FlagSet) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		l, ok := ls[f.Name]
		if err != nil || !ok {
			return
		}
		if d, ok := f.Value.(*workload.Dist); ok {
			if float64(d.A) > l.max || float64(d.B) > l.max {
				err = usagef("--%s must have durations of at most %s (got %s)", f.Name, fmtLimit(l.max, true), f.Value)
			}
			return
		}
		g, ok := f.Value.(flag.Getter)
		if !ok {
			return
		}
		var v float64
		switch x := g.Get().(type) {
		case int:
			v = float64(x)
		case int64:
			v = float64(x)
		case uint64:
			v = float64(x)
		case float64:
			v = x
		case time.Duration:
			v = float64(x)
		default:
			return
		}
		isDur := isDurationFlag(f)
		switch {
		case v > l.max:
			err = usagef("--%s must be at most %s (got %s)", f.Name, fmtLimit(l.max, isDur), f.Value)
		case l.hasMin && v < l.min:
			err = usagef("--%s must be at least %s (got %s)", f.Name, fmtLimit(l.min, isDur), f.Value)
		}
	})
	return err
}

func isDurationFlag(f *flag.Flag) bool {
	if g, ok := f.Value.(flag.Getter); ok {
		_, ok := g.Get().(time.Duration)
		return ok
	}
	return isDist(f)
}

func isDist(f *flag.Flag) bool {
	_, ok := f.Value.(*workload.Dist)
	return ok
}

// fmtLimit writes a bound as a user would type it: 1000000, 0.5, 1m, 1000h.
func fmtLimit(v float64, isDur bool) string {
	if !isDur {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	s := time.Duration(v).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Bounds shared by several commands.
const (
	// maxRunTime bounds how long a run goes on: --duration 1000h is about
	// six weeks of real time (live) and days of wall time (virtual).
	maxRunTime = float64(1000 * time.Hour)
	// maxTimer bounds the pool's timers and the faults' periods.
	maxTimer = float64(1000 * time.Hour)
	// maxStep bounds what one operation of the virtual simulator may take
	// (a hold, a latency, an acquire's deadline): it closes its books a
	// minute after the run, and a step longer than that was reported as a
	// livelock or a leak.
	maxStep = float64(time.Minute)
)

// simLimits are the bounds of `idpool sim`'s workload flags (docs/SIM.md
// lists them). --seed, --ops, --max-total and --max-waiters take any value
// that is not negative: the last three only ever stop or cap a run.
var simLimits = limits{
	"duration":           atMost(maxRunTime),
	"identities":         between(1, 1_000_000),
	"one-shot":           between(0, 1),
	"workers":            between(1, 10_000),
	"rate":               atMost(100_000),
	"think":              atMost(maxStep),
	"hold":               atMost(maxStep),
	"slow-query":         atMost(maxStep),
	"acquire-timeout":    atMost(maxStep),
	"max-size":           between(1, 10_000),
	"min-size":           between(0, 1_000),
	"idle-timeout":       atMost(maxTimer),
	"lifetime":           atMost(maxTimer),
	"health-check-after": atMost(maxTimer),
	"token-threshold":    atMost(maxTimer),
	"pool-idle-timeout":  atMost(maxTimer),
	"dial-timeout":       atMost(maxTimer),
	"mint-timeout":       atMost(maxTimer),
	"dial-backoff":       atMost(maxTimer),
	"dial-backoff-max":   atMost(maxTimer),
	// Entra ID issues access tokens for at most a day.
	"token-lifetime":   atMost(float64(24 * time.Hour)),
	"rotation-rate":    between(0, 1_000),
	"dial-latency":     atMost(maxStep),
	"mint-latency":     atMost(maxStep),
	"validate-latency": atMost(maxStep),
	"close-latency":    atMost(maxStep),
	// Every message between actors takes it: a hop of a minute is a run
	// whose every acquire times out.
	"mailbox-latency": atMost(float64(time.Second)),
	"kill-rate":       between(0, 10_000),
	"refuse-login":    between(0, 1),
	"dial-error":      between(0, 1),
	"slow-login":      between(0, 1),
	"slow-login-time": atMost(maxTimer),
	"outage-every":    atMost(maxTimer),
	"outage-for":      atMost(maxStep),
}
