package fleet

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/idpool/idpool/internal/safelog"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Config configures a Budget.
type Config struct {
	// Client talks to the etcd cluster. Required. The Budget does not close
	// it.
	Client *clientv3.Client
	// Prefix is the budget's key prefix, one per database server, e.g.
	// "/idpool/sql1/". Every process sharing the budget must use the same
	// prefix and Cap (processes that find different caps keep to the
	// smallest and log an error). Required; must end in "/".
	Prefix string
	// Cap is the fleet-wide cap on physical sessions to the server.
	// Required; at most 1,000,000,000 (the largest count a key may state).
	Cap int
	// TTL is the etcd lease's time to live: how long a dead or cut-off
	// process's permits stay taken. Default 10s; at least 2s.
	TTL time.Duration
	// Batch is how many permits a process fetches beyond those it needs
	// right now, and keeps at hand while they are idle. Default 2; one
	// above Cap counts as Cap.
	Batch int
	// IdleReturn gives spare permits back when none was taken (or
	// fetched) for this long. Default 2s.
	IdleReturn time.Duration
	// FallbackShare, when etcd cannot be reached and the process's lease can
	// no longer be counted on, lets it keep or open up to this many
	// connections anyway (for example Cap divided by the expected replicas).
	// It trades the guarantee of never passing the cap for availability.
	// Default 0: fail closed.
	FallbackShare int
	// Logger receives the budget's logs. Default: none. A panic of its
	// handler loses the record and nothing else; a handler that blocks holds
	// the budget's goroutine that logs, and Close waits for it at most TTL/3.
	Logger *slog.Logger
}

// Defaults.
const (
	DefaultTTL        = 10 * time.Second
	DefaultBatch      = 2
	DefaultIdleReturn = 2 * time.Second
	minTTL            = 2 * time.Second
)

func (c Config) validate() error {
	var problems []string
	if c.Client == nil {
		problems = append(problems, "Client: required")
	}
	if c.Prefix == "" || !strings.HasSuffix(c.Prefix, "/") {
		problems = append(problems, fmt.Sprintf("Prefix: required, ending in \"/\" (got %q)", c.Prefix))
	}
	if c.Cap < 1 || c.Cap > maxHolderCount {
		// The cap key states Cap as a count, which every fetch reads back
		// and refuses above maxHolderCount (see parseHolderCount): a larger
		// Cap would make every fetch fail on the process's own key.
		problems = append(problems, fmt.Sprintf("Cap: must be between 1 and %d (got %d)", maxHolderCount, c.Cap))
	}
	if c.TTL != 0 && c.TTL < minTTL {
		problems = append(problems, fmt.Sprintf("TTL: must be at least %s (got %s)", minTTL, c.TTL))
	}
	if c.Batch < 0 {
		problems = append(problems, fmt.Sprintf("Batch: must not be negative (got %d)", c.Batch))
	}
	if c.IdleReturn < 0 {
		problems = append(problems, fmt.Sprintf("IdleReturn: must not be negative (got %s)", c.IdleReturn))
	}
	if c.FallbackShare < 0 || c.FallbackShare > c.Cap {
		problems = append(problems, fmt.Sprintf("FallbackShare: must be between 0 and Cap (got %d)", c.FallbackShare))
	}
	if len(problems) > 0 {
		return errors.New("fleet: invalid Config: " + strings.Join(problems, "; "))
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.Batch == 0 {
		c.Batch = DefaultBatch
	}
	// A Batch beyond the cap means the same (a fetch takes no more than the
	// cap leaves, and a process never holds more spares than that), and
	// need+Batch must not overflow into a negative count, which a fetch
	// would take for a full fleet.
	c.Batch = min(c.Batch, c.Cap)
	if c.IdleReturn == 0 {
		c.IdleReturn = DefaultIdleReturn
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	// The budget logs from its worker and watch goroutines: a panic of the
	// user's handler there would end the process (see safelog).
	c.Logger = safelog.Wrap(c.Logger)
	return c
}
