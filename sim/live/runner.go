package live

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/idpool/idpool/internal/guardhook"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/report"
	"github.com/idpool/idpool/sim/workload"
)

// Options are the run's non-workload settings.
type Options struct {
	// Progress, if set, is called about every ProgressEvery.
	Progress      func(report.Snapshot)
	ProgressEvery time.Duration
}

// lostGrace is how long past its deadline an acquire may take to return
// before the run notes it as a suspect ("late_answer").
const lostGrace = time.Second

// runner is one live run.
type runner struct {
	cfg workload.Config
	b   Backend
	opt Options

	start   time.Time
	stopped atomic.Bool
	nextID  atomic.Uint64
	issued  atomic.Int64

	mu       sync.Mutex
	res      report.Result
	hist     *hdrhistogram.Histogram
	holders  map[int64]uint64
	inflight map[uint64]*acquireWatch
	oneShots int
	used     map[string]bool
	texts    map[string]int

	fifo *fifoChecker
	// odd holds the runner's own suspects (see suspects).
	odd suspects
}

type acquireWatch struct {
	start    time.Time
	reported bool
}

// Run runs cfg against b for cfg.Duration (or cfg.Ops acquires) and
// returns the report. It starts and closes b.
func Run(ctx context.Context, cfg workload.Config, b Backend, opt Options) (*report.Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.InjectBug != "" {
		if !slices.Contains(workload.LiveBugs(), cfg.InjectBug) {
			return nil, fmt.Errorf("--inject-bug %s runs in virtual mode only (live mode injects %v)", cfg.InjectBug, workload.LiveBugs())
		}
		// skip-lease-guard: the manager's guard lets every call through
		// for the length of the run.
		guardhook.SkipLeaseGuard.Store(true)
		defer guardhook.SkipLeaseGuard.Store(false)
	}
	if err := b.Start(ctx, cfg); err != nil {
		return nil, fmt.Errorf("starting the %s backend: %w", b.Name(), err)
	}
	r := &runner{
		cfg: cfg, b: b, opt: opt, hist: report.NewLatencyHist(),
		holders: map[int64]uint64{}, inflight: map[uint64]*acquireWatch{}, used: map[string]bool{}, texts: map[string]int{},
		fifo: newFIFOChecker(200*time.Millisecond+2*cfg.Latency.Mint.Max(), 200*time.Millisecond),
		res: report.Result{
			Mode: "live", Backend: b.Name(), Seed: cfg.Seed, InjectedBug: cfg.InjectBug, Identities: cfg.Identities, Arrival: cfg.Arrival,
			ErrorsByKind: map[string]uint64{}, Ops: map[string]uint64{},
		},
	}
	if cfg.Arrival == "closed" {
		r.res.Workers = cfg.Workers
	}
	return r.run(ctx)
}

func (r *runner) run(ctx context.Context) (*report.Result, error) {
	r.start = time.Now()
	runCtx, stop := context.WithCancel(ctx)
	if r.cfg.Duration > 0 {
		runCtx, stop = context.WithTimeout(ctx, r.cfg.Duration)
	}
	defer stop()
	var work, side sync.WaitGroup
	sideCtx, stopSide := context.WithCancel(context.Background())
	side.Add(2)
	go func() { defer side.Done(); r.faults(sideCtx) }()
	go func() { defer side.Done(); r.monitor(sideCtx) }()

	if r.cfg.Arrival == "closed" {
		for w := range r.cfg.Workers {
			work.Add(1)
			go func() { defer work.Done(); r.worker(runCtx, stop, uint64(w)) }()
		}
	} else {
		work.Add(1)
		go func() { defer work.Done(); r.poisson(runCtx, stop, &work) }()
	}
	<-runCtx.Done()
	r.stopped.Store(true)
	// The caller's ctx ended (main's on SIGINT or SIGTERM), not the run's
	// own duration: the report must not vouch for a run that did not end.
	r.res.Interrupted = ctx.Err() != nil
	elapsed := time.Since(r.start)
	finished := make(chan struct{})
	go func() { work.Wait(); close(finished) }()
	wait := r.cfg.AcquireTimeout + r.cfg.SlowQuery + r.cfg.Hold.Max() + 10*time.Second
	select {
	case <-finished:
	case <-time.After(wait):
		r.mu.Lock()
		r.violation(&r.res.Violations.LostWaiters, "%d acquires still waiting %s after the run ended", len(r.inflight), wait)
		r.mu.Unlock()
	}
	stopSide()
	side.Wait()

	closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fin, closeErr := r.b.Close(closeCtx)
	select { // workers stuck past the wait cannot be waited for forever
	case <-finished:
	case <-time.After(5 * time.Second):
	}
	r.finish(fin, elapsed)
	return &r.res, closeErr
}

// worker is one closed-loop caller.
func (r *runner) worker(ctx context.Context, stop context.CancelFunc, n uint64) {
	rng := rand.New(rand.NewPCG(r.cfg.Seed, n+100))
	picker := r.cfg.NewPicker(rng)
	for ctx.Err() == nil {
		if !r.claim(stop) {
			return
		}
		r.one(rng, picker)
		if d := r.cfg.Think.Sample(rng); d > 0 {
			time.Sleep(d)
		}
	}
}

// poisson starts acquires at cfg.Rate per second, each in a goroutine.
func (r *runner) poisson(ctx context.Context, stop context.CancelFunc, wg *sync.WaitGroup) {
	rng := rand.New(rand.NewPCG(r.cfg.Seed, 99))
	var mu sync.Mutex // guards rng and picker for the goroutines
	picker := r.cfg.NewPicker(rng)
	next := time.Now()
	for ctx.Err() == nil {
		mu.Lock()
		next = next.Add(time.Duration(rng.ExpFloat64() / r.cfg.Rate * 1e9))
		mu.Unlock()
		if d := time.Until(next); d > time.Millisecond {
			time.Sleep(d)
		}
		if !r.claim(stop) {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			mu.Lock()
			seed := rng.Uint64()
			mu.Unlock()
			local := rand.New(rand.NewPCG(seed, 7))
			r.one(local, lockedPicker{&mu, picker})
		}()
	}
}

type picker interface{ Pick() int }

type lockedPicker struct {
	mu *sync.Mutex
	p  *workload.Picker
}

func (l lockedPicker) Pick() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.p.Pick()
}

// claim counts one more acquire, ending the run at cfg.Ops.
func (r *runner) claim(stop context.CancelFunc) bool {
	if r.cfg.Ops <= 0 {
		return true
	}
	n := r.issued.Add(1)
	if n >= r.cfg.Ops {
		stop()
	}
	return n <= r.cfg.Ops
}

// one runs one operation and checks it.
func (r *runner) one(rng *rand.Rand, p picker) {
	name := ""
	if i := p.Pick(); i >= 0 {
		name = workload.IdentityName(i)
	} else {
		r.mu.Lock()
		name = workload.OneShotName(r.oneShots)
		r.oneShots++
		r.mu.Unlock()
	}
	id := r.b.Identity(name)
	op := Op{Kind: r.cfg.Mix.Pick(rng), Hold: r.cfg.Hold.Sample(rng), Slow: r.cfg.SlowQuery, CtxDeadline: rng.IntN(2) == 0}
	acq := r.nextID.Add(1)
	start := time.Now()
	r.mu.Lock()
	r.res.Acquires++
	if !r.used[name] {
		r.used[name] = true
		r.res.IdentitiesUsed++
	}
	r.res.Ops[op.Kind.String()]++
	r.inflight[acq] = &acquireWatch{start: start}
	r.mu.Unlock()
	r.fifo.waiting(id.Login(), acq, start)

	out := r.b.Do(context.Background(), id, op, observer{r, acq, id.Login()})
	if !out.Granted {
		r.fifo.done(id.Login(), acq, time.Now(), false)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.inflight, acq)
	switch {
	case out.AcquireErr != nil && errors.Is(out.AcquireErr, manager.ErrAcquireTimeout):
		r.res.Timeouts++
	case out.AcquireErr != nil:
		r.errorKind(acquireErrorKind(out.AcquireErr))
	default:
		r.res.Granted++
		_ = r.hist.RecordValue(max(out.Wait.Microseconds(), 0))
		if out.LoggedInAs != "" && out.LoggedInAs != id.Login() {
			r.violation(&r.res.Violations.CrossIdentity, "cross identity: %s was handed session %d logged in as %s", id.Login(), out.Session, out.LoggedInAs)
		}
		if out.DirtyTx {
			r.violation(&r.res.Violations.DirtyCheckout, "dirty checkout: %s got session %d inside a transaction its previous user left open", id.Login(), out.Session)
		}
		if out.OpErr != nil {
			r.errorKind(opErrorKind(out.OpErr))
		}
		if out.StaleUse != "" {
			r.violation(&r.res.Violations.StaleLeaseUse, "%s", out.StaleUse)
		}
	}
}

// observer tracks one lease for the double-lease check.
type observer struct {
	r     *runner
	acq   uint64
	login string
}

func (o observer) Granted(session int64, _ time.Duration) {
	o.r.fifo.done(o.login, o.acq, time.Now(), true)
	o.r.mu.Lock()
	defer o.r.mu.Unlock()
	delete(o.r.inflight, o.acq)
	if other, held := o.r.holders[session]; held {
		o.r.violation(&o.r.res.Violations.DoubleLease, "double lease: session %d granted to acquire %d while acquire %d holds it", session, o.acq, other)
	}
	o.r.holders[session] = o.acq
}

func (o observer) Releasing(session int64) {
	o.r.mu.Lock()
	defer o.r.mu.Unlock()
	if o.r.holders[session] == o.acq {
		delete(o.r.holders, session)
	}
}

// violation counts one violation and describes the first few of each kind;
// r.mu must be held.
func (r *runner) violation(counter *uint64, format string, args ...any) {
	*counter++
	text := fmt.Sprintf(format, args...)
	kind := text[:min(len(text), 12)]
	if r.texts[kind] < 3 {
		r.texts[kind]++
		r.res.ViolationSamples = append(r.res.ViolationSamples, fmt.Sprintf("t=%.3fs %s", time.Since(r.start).Seconds(), text))
	}
}

func (r *runner) errorKind(kind string) {
	r.res.Errors++
	r.res.ErrorsByKind[kind]++
}
