package fleet

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/idpool/idpool/drivers/sqlserver"
	budget "github.com/idpool/idpool/fleet"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// WorkerEnv carries a worker's configuration (JSON) to the spawned process.
const WorkerEnv = "IDPOOL_FLEET_WORKER"

// WorkerConfig is what one worker process runs.
type WorkerConfig struct {
	Index       int
	TDSAddr     string
	Endpoints   []string
	Prefix      string
	Cap         int
	TTL         time.Duration
	Batch       int
	Identities  int
	PerIdentity int
	MaxSize     int
	Hold        time.Duration
	IdleTimeout time.Duration
	Seed        uint64
}

// Status is a worker's report, one JSON line on stdout every StatusEvery.
type Status struct {
	Index int
	// At is when the worker took the report: zero in the runner's
	// placeholder for a worker that has not reported yet.
	At                   time.Time
	Lease                int64
	Held, InUse, Waiting int
	LeaseValid           bool
	Acquires, Failures   uint64
	Dials                uint64
	Fetches, Refused     uint64
	Renewals             uint64
	LeaseLosses          uint64
	FetchNanos           int64
	// DialNanos is the total time of physical opens, fleet wait excluded.
	DialNanos int64
}

// StatusEvery is how often workers report.
const StatusEvery = 50 * time.Millisecond

// MaybeWorker runs the worker and exits when WorkerEnv is set; otherwise it
// returns at once. Call it first thing in main or TestMain.
func MaybeWorker() {
	raw := os.Getenv(WorkerEnv)
	if raw == "" {
		return
	}
	var cfg WorkerConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "fleet worker: bad config:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := runWorker(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "fleet worker:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runWorker(ctx context.Context, cfg WorkerConfig) error {
	cli, err := clientv3.New(clientv3.Config{Endpoints: cfg.Endpoints, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer cli.Close()
	b, err := budget.New(budget.Config{Client: cli, Prefix: cfg.Prefix, Cap: cfg.Cap, TTL: cfg.TTL, Batch: cfg.Batch, IdleReturn: 500 * time.Millisecond})
	if err != nil {
		return err
	}
	u := url.URL{Scheme: "sqlserver", Host: cfg.TDSAddr, RawQuery: "database=simdb&encrypt=disable&dial+timeout=5"}
	d, err := sqlserver.NewDialer(u.String())
	if err != nil {
		return err
	}
	var dials atomic.Uint64
	var dialNanos atomic.Int64
	timed := manager.DialerFunc(func(ctx context.Context, req manager.DialRequest) (driver.Conn, error) {
		start := time.Now()
		c, err := d.Dial(ctx, req)
		dials.Add(1)
		dialNanos.Add(int64(time.Since(start)))
		return c, err
	})
	m, err := manager.New(manager.Config{Server: d.ServerKey(), Dialer: timed, Fleet: b, MaxSize: cfg.MaxSize,
		IdleTimeout: cfg.IdleTimeout, AcquireTimeout: 2 * time.Second, HealthCheckAfter: -1,
		DialBackoff: -1, Seed: cfg.Seed + 1})
	if err != nil {
		return err
	}
	var acquires, failures atomic.Uint64
	work, stopWork := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range cfg.Identities {
		name := fmt.Sprintf("id%d", i)
		// The server takes the token for the login name (see Run): each
		// worker's own, so that it counts each worker's logins.
		login := loginName(cfg.Index, i)
		id := tokens.New(tokens.KindProvidedToken, "fleet:"+name, tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
			return tokens.Token{Value: login, ExpiresOn: time.Now().Add(time.Hour)}, nil
		}))
		for g := range cfg.PerIdentity {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(cfg.Seed, uint64(i*1000+g)))
				for work.Err() == nil {
					l, err := m.Acquire(work, id)
					if err != nil {
						failures.Add(1)
						continue
					}
					acquires.Add(1)
					hold := cfg.Hold/2 + time.Duration(rng.Int64N(int64(cfg.Hold)+1))
					select {
					case <-work.Done():
					case <-time.After(hold):
					}
					l.Release(nil)
				}
			}()
		}
	}
	enc := json.NewEncoder(os.Stdout)
	tick := time.NewTicker(StatusEvery)
	defer tick.Stop()
	// The permits come from the manager's Stats, as a user would read them;
	// only the lease id (the key to watch for a kill) from the budget.
	report := func() {
		// At is read before the stats, so what they show (no lease, no
		// permit in use, say) held at At or later, never before it: a
		// report with an At after etcd stopped shows the worker after the
		// stop (see failClosed).
		at := time.Now()
		st := m.Stats().Fleet
		_ = enc.Encode(Status{Index: cfg.Index, At: at, Lease: b.Stats().Lease, Held: st.Held, InUse: st.InUse, Waiting: st.Waiting,
			LeaseValid: st.LeaseValid, Acquires: acquires.Load(), Failures: failures.Load(), Dials: dials.Load(),
			Fetches: st.Fetches, Refused: st.Refused, Renewals: st.Renewals, LeaseLosses: st.LeaseLosses, FetchNanos: int64(st.FetchTime),
			DialNanos: dialNanos.Load()})
	}
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-tick.C:
			report()
		}
	}
	stopWork()
	wg.Wait()
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Close(cctx); err != nil {
		return err
	}
	report()
	return b.Close(cctx)
}
