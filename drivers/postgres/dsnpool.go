package postgres

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/idpool/idpool/manager"
)

// pgxpool reads pool settings from the DSN as pool_* parameters; pgx alone
// would send them to the server as runtime parameters, which it refuses
// ("unrecognized configuration parameter") on every dial. OpenDB and
// OpenPool take the ones idpool has a counterpart for and refuse the rest;
// NewDialer, which builds no pool, refuses them all.

// poolParamPrefix starts every pgxpool DSN parameter.
const poolParamPrefix = "pool_"

// dsnPool is what a DSN's pool_* parameters ask for: the settings idpool
// has a counterpart for, and the names of every pool_* parameter seen.
type dsnPool struct {
	maxConns, minConns   int
	lifetime, idle       time.Duration
	hasMax, hasMin       bool
	hasLifetime, hasIdle bool
	names                []string // every pool_* parameter, as written, sorted
	problems             []string // values that do not parse, parameters idpool lacks
}

// unsupportedPoolParams are pgxpool's parameters without an idpool
// counterpart, with what to do instead. They are refused rather than
// dropped, so that a setting is never silently ignored.
var unsupportedPoolParams = map[string]string{
	"pool_health_check_period":      "idpool checks a connection idle longer than manager.Config.HealthCheckAfter when it hands it out, rather than periodically",
	"pool_max_conn_lifetime_jitter": "idpool shortens lifetimes by up to manager.Config.LifetimeJitter, where pgxpool lengthens them",
	"pool_min_idle_conns":           "idpool keeps manager.Config.MinSize connections open, not a number of idle ones",
	"pool_ping_timeout":             "manager.Config.ValidateTimeout bounds idpool's health checks",
}

// takePoolParams removes every pool_* parameter from params (pgx's runtime
// parameters, sent to the server at login) and returns what they asked for.
// Problems name the parameter, never its value: a DSN's text stays out of
// errors.
func takePoolParams(params map[string]string) dsnPool {
	var p dsnPool
	for name, value := range params {
		if !strings.HasPrefix(strings.ToLower(name), poolParamPrefix) {
			continue
		}
		delete(params, name)
		p.names = append(p.names, name)
		p.parse(name, value)
	}
	sort.Strings(p.names)
	sort.Strings(p.problems)
	return p
}

func (p *dsnPool) parse(name, value string) {
	bad := func(format string, args ...any) {
		p.problems = append(p.problems, fmt.Sprintf("DSN parameter %s: "+format, append([]any{name}, args...)...))
	}
	switch name {
	case "pool_max_conns":
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 {
			bad("must be an integer of at least 1 (it sets manager.Config.MaxSize)")
			return
		}
		p.maxConns, p.hasMax = n, true
	case "pool_min_conns":
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 {
			bad("must be an integer of at least 0 (it sets manager.Config.MinSize)")
			return
		}
		p.minConns, p.hasMin = n, true
	case "pool_max_conn_lifetime":
		d, err := time.ParseDuration(value)
		if err != nil {
			bad("must be a duration such as 30m (it sets manager.Config.MaxLifetime)")
			return
		}
		if d <= 0 {
			d = -1 // pgxpool: no lifetime limit; idpool: a negative MaxLifetime
		}
		p.lifetime, p.hasLifetime = d, true
	case "pool_max_conn_idle_time":
		d, err := time.ParseDuration(value)
		if err != nil || d <= 0 {
			// pgxpool closes every idle connection above its minimum at
			// once for 0; idpool has no such setting.
			bad("must be a positive duration such as 5m (it sets manager.Config.IdleTimeout)")
			return
		}
		p.idle, p.hasIdle = d, true
	default:
		if why, ok := unsupportedPoolParams[name]; ok {
			bad("idpool has no counterpart (%s); remove it from the DSN", why)
			return
		}
		bad("not a pool parameter idpool knows; it honours pool_max_conns, pool_min_conns, pool_max_conn_lifetime and pool_max_conn_idle_time; remove it from the DSN")
	}
}

// err reports the problems, or nil.
func (p dsnPool) err() error {
	if len(p.problems) == 0 {
		return nil
	}
	return errors.New("postgres: " + strings.Join(p.problems, "; "))
}

// apply fills the fields of cfg the DSN's pool parameters set. A field left
// zero in cfg takes the DSN's value; a field set in cfg to the same setting
// is fine; a field set to another is a conflict, refused with an error
// naming both, since neither can be assumed to be the one meant.
func (p dsnPool) apply(cfg manager.Config) (manager.Config, error) {
	if err := p.err(); err != nil {
		return cfg, err
	}
	var conflicts []string
	conflict := func(param string, dsn any, field string, got any) {
		conflicts = append(conflicts, fmt.Sprintf("DSN parameter %s=%v conflicts with manager.Config.%s=%v", param, dsn, field, got))
	}
	if p.hasMax {
		switch cfg.MaxSize {
		case 0, p.maxConns:
			cfg.MaxSize = p.maxConns
		default:
			conflict("pool_max_conns", p.maxConns, "MaxSize", cfg.MaxSize)
		}
	}
	if p.hasMin {
		switch cfg.MinSize {
		case 0, p.minConns:
			cfg.MinSize = p.minConns
		default:
			conflict("pool_min_conns", p.minConns, "MinSize", cfg.MinSize)
		}
	}
	if p.hasLifetime {
		if v, ok := mergeDuration(cfg.MaxLifetime, p.lifetime); ok {
			cfg.MaxLifetime = v
		} else {
			conflict("pool_max_conn_lifetime", durationText(p.lifetime), "MaxLifetime", durationText(cfg.MaxLifetime))
		}
	}
	if p.hasIdle {
		if v, ok := mergeDuration(cfg.IdleTimeout, p.idle); ok {
			cfg.IdleTimeout = v
		} else {
			conflict("pool_max_conn_idle_time", durationText(p.idle), "IdleTimeout", durationText(cfg.IdleTimeout))
		}
	}
	if len(conflicts) > 0 {
		return cfg, errors.New("postgres: " + strings.Join(conflicts, "; ") + " (set each in one place)")
	}
	return cfg, nil
}

// mergeDuration merges a Config timer (0: default, negative: off) with the
// DSN's (negative: off).
func mergeDuration(cfg, dsn time.Duration) (time.Duration, bool) {
	switch {
	case cfg == 0:
		return dsn, true
	case cfg < 0 && dsn < 0:
		return cfg, true
	default:
		return cfg, cfg == dsn
	}
}

// durationText prints a timer, naming "off" for the negative values.
func durationText(d time.Duration) string {
	if d < 0 {
		return "off"
	}
	return d.String()
}

// errPoolParamsNeedAPool refuses pool parameters where no pool is built.
func errPoolParamsNeedAPool(names []string) error {
	return fmt.Errorf("postgres: DSN parameter %s is a pool setting, which a Dialer cannot apply: "+
		"pass the DSN to postgres.OpenDB or postgres.OpenPool, which honour pool_max_conns, pool_min_conns, "+
		"pool_max_conn_lifetime and pool_max_conn_idle_time, or set manager.Config instead", strings.Join(names, ", "))
}
