package virtual

import (
	"math/rand/v2"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/manager/decide"
	"github.com/idpool/idpool/sim/report"
	"github.com/idpool/idpool/sim/workload"
)

// Options are the run's non-workload settings.
type Options struct {
	// Progress, if set, is called about every ProgressEvery of wall-clock
	// time with a snapshot of the run.
	Progress      func(report.Snapshot)
	ProgressEvery time.Duration
}

// epoch is virtual time zero. A fixed instant keeps runs reproducible.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// livelockEvents: this many events at one virtual instant means the run
// is stuck.
const livelockEvents = 1_000_000

// engine is one simulation run.
type engine struct {
	cfg  workload.Config
	opt  Options
	bug  string
	now  int64
	q    eventQueue
	stop int64 // virtual end of arrivals

	// Random streams: arrivals and identities, ops and holds, the server
	// and endpoint, faults, injected bugs.
	rArrive, rOp, rServer, rFault, rBug *rand.Rand
	picker                              *workload.Picker

	idents   []*identity
	oneShots int
	pools    int // live pools
	// drainedStats sums the counters of pools that drained.
	gone      poolTotals
	allPools  []*vpool // pools not yet drained
	nextAcqID uint64
	// mgr is the manager's state machine (the same code the manager actor
	// runs); byID finds the pools it names.
	mgr  *decide.Manager
	byID map[decide.PoolID]*vpool
	// rRoute draws how long a caller takes between counting itself in a
	// route and reading whether it is closed.
	rRoute *rand.Rand
	// handles finds the handle of each acquire a pool has yet to answer.
	handles   map[uint64]*handle
	stopping  bool
	stopAt    int64 // when arrivals stopped
	hardEnd   int64 // no event runs past this once every pool is closed
	closedAll bool
	// resting: the workload has ended and every acquire finished; the
	// pools sit with no traffic until restEnd (see churn.go).
	resting    bool
	inflight   int // requests arrived and not finished
	waiting    int // requests delivered to a pool and unanswered
	outage     bool
	tokenShift int64

	// server
	nextConnID   int64
	openList     []*bconn // physically open sessions
	totalOpen    int      // sessions open and not asked to close, all pools
	totalDialing int      // dials started, all pools
	totalOver    bool

	res    report.Result
	hist   *hdrhistogram.Histogram
	checks checker
	mints  uint64 // successful mints, for the series
}

// Run simulates cfg and returns its report.
func Run(cfg workload.Config, opt Options) (*report.Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := newEngine(cfg, opt)
	wallStart := time.Now()
	e.start()
	e.loop(wallStart)
	e.finish()
	wall := time.Since(wallStart).Seconds()
	e.res.WallS = wall
	if wall > 0 {
		e.res.AcquiresPerWallS = float64(e.res.Acquires) / wall
	}
	return &e.res, nil
}

func newEngine(cfg workload.Config, opt Options) *engine {
	e := &engine{
		cfg: cfg, opt: opt, bug: cfg.InjectBug,
		rArrive: cfg.NewRand(1), rOp: cfg.NewRand(2), rServer: cfg.NewRand(3), rFault: cfg.NewRand(4), rBug: cfg.NewRand(5),
		hist: report.NewLatencyHist(), handles: map[uint64]*handle{},
		mgr: newManager(cfg), byID: map[decide.PoolID]*vpool{}, rRoute: cfg.NewRand(6),
	}
	e.picker = cfg.NewPicker(e.rArrive)
	e.idents = make([]*identity, cfg.Identities)
	for i := range e.idents {
		e.idents[i] = newIdentity(workload.IdentityName(i))
	}
	if e.bug == "expired-token" {
		e.tokenShift = int64(cfg.TokenLifetime)
	}
	e.stop = int64(cfg.Duration)
	if cfg.Duration <= 0 {
		e.stop = int64(365 * 24 * time.Hour)
	}
	e.res = report.Result{
		Mode: "virtual", Seed: cfg.Seed, Identities: cfg.Identities, Arrival: cfg.Arrival,
		InjectedBug: cfg.InjectBug, ErrorsByKind: map[string]uint64{}, Ops: map[string]uint64{}, Closes: map[string]uint64{},
	}
	if cfg.Arrival == "closed" {
		e.res.Workers = cfg.Workers
	}
	e.checks.e = e
	return e
}

func (e *engine) at(d time.Duration) int64 { return e.now + int64(d) }

func (e *engine) timeNow() time.Time { return epoch.Add(time.Duration(e.now)) }

func (e *engine) schedule(ev event) {
	if ev.at < e.now {
		ev.at = e.now
	}
	e.q.push(ev)
}

// start schedules the first arrivals, the faults and the sampler.
func (e *engine) start() {
	if e.cfg.Arrival == "closed" {
		for i := range e.cfg.Workers {
			w := &worker{id: i}
			e.schedule(event{at: int64(e.cfg.Think.Sample(e.rArrive)), kind: evArrive, w: w})
		}
	} else {
		e.schedule(event{at: e.poissonGap(), kind: evArrive})
	}
	if e.cfg.Duration > 0 {
		e.schedule(event{at: e.stop, kind: evStop})
	}
	f := e.cfg.Faults
	if f.KillRate > 0 {
		e.schedule(event{at: e.expGap(f.KillRate), kind: evKill})
	}
	if f.OutageEvery > 0 && f.OutageFor > 0 {
		e.schedule(event{at: int64(f.OutageEvery), kind: evOutageStart})
	}
	if e.cfg.RotationRate > 0 {
		e.schedule(event{at: e.expGap(e.cfg.RotationRate * float64(e.cfg.Identities)), kind: evRotate})
	}
	e.schedule(event{at: 0, kind: evSample})
}

func (e *engine) poissonGap() int64 { return e.now + int64(e.rArrive.ExpFloat64()/e.cfg.Rate*1e9) }

func (e *engine) expGap(rate float64) int64 { return e.now + int64(e.rFault.ExpFloat64()/rate*1e9) }

// loop runs events until none is left.
func (e *engine) loop(wallStart time.Time) {
	every := e.opt.ProgressEvery
	if every <= 0 {
		every = 250 * time.Millisecond
	}
	lastProgress := wallStart
	sameInstant := 0
	for n := 0; e.q.len() > 0; n++ {
		ev := e.q.pop()
		if ev.kind == evTick && ev.pool.closing && e.closedAll {
			// A timer set before Close: a closing pool ignores it, and it
			// may lie far past the end (a long MaxLifetime).
			continue
		}
		if ev.kind.source() && e.stopping {
			continue // it would do nothing, and may lie far past the end
		}
		if e.closedAll && (ev.kind == evStop || ev.kind == evSample) {
			// Nothing to do either (halt and sample return at once), and
			// when --ops stopped the run long before its Duration, the
			// stop and the next sample lie that far past the end.
			continue
		}
		if ev.at == e.now {
			sameInstant++
		} else {
			sameInstant = 0
		}
		e.now = ev.at
		if sameInstant > livelockEvents || e.closedAll && e.now > e.hardEnd {
			e.checks.violation(&e.res.Violations.StateMachine, "livelock: events still running at t=%.3fs (%d at this instant; event kind %d)", time.Duration(e.now).Seconds(), sameInstant, ev.kind)
			return
		}
		e.handle(ev)
		// Every acquire finishes within its deadline plus a release, so a
		// run whose callers do not all finish by then is closed anyway.
		if e.stopping && !e.resting && !e.closedAll && (e.inflight == 0 || e.now > e.stopAt+int64(2*e.cfg.AcquireTimeout+e.cfg.SlowQuery+time.Second)) {
			e.beginRest() // then closeAll, at evRestEnd
		}
		if e.opt.Progress != nil && n&0x3fff == 0 {
			if now := time.Now(); now.Sub(lastProgress) >= every {
				lastProgress = now
				e.opt.Progress(e.snapshot(now.Sub(wallStart)))
			}
		}
	}
}

func (e *engine) snapshot(wall time.Duration) report.Snapshot {
	s := report.Snapshot{
		Mode: "virtual", Elapsed: time.Duration(e.now).Seconds(), WallElapsed: wall.Seconds(),
		Acquires: e.res.Acquires, Pools: e.pools, Open: len(e.openList), Waiters: e.waiting,
		Violations: e.res.Violations.Total(),
	}
	if e.cfg.Duration > 0 {
		s.Total = e.cfg.Duration.Seconds()
	}
	if wall > 0 {
		s.Rate = float64(e.res.Acquires) / wall.Seconds()
	}
	return s
}

func (e *engine) handle(ev event) {
	switch ev.kind {
	case evArrive:
		e.arrive(ev.w)
	case evDeliverAcquire:
		e.deliverAcquire(ev.req)
	case evDeadline:
		e.deadline(ev.req)
	case evDeliverCancel:
		e.deliverCancel(ev.req)
	case evOpEnd:
		e.opEnd(ev.req)
	case evDeliverRelease:
		r := ev.req
		e.step(r.pool, actors.Release{Conn: r.connID, Broken: r.broken})
		e.finishRequest(r)
	case evDialDone:
		e.dialDone(ev.dial, ev.conn)
	case evMintDone:
		e.mintDone(ev.pool, ev.n == 1)
	case evValidateDone:
		p, c := ev.pool, ev.conn
		e.stepAfter(p, func() { p.validating-- }, actors.ValidateDone{Conn: actors.ConnID(ev.n), OK: c.open && !c.dead})
	case evCloseDone:
		e.closeDone(ev.pool, ev.conn, actors.ConnID(ev.n))
	case evTick:
		p := ev.pool
		if p.wakeGen == ev.n && !p.drained {
			e.tick(p)
		}
	case evRetireRequest:
		e.retireRequest(ev.pool, ev.n)
	case evRetireApproved:
		p := ev.pool
		if !p.closing {
			p.closing = true
			e.step(p, actors.Close{})
		}
	case evKill:
		e.kill()
	case evOutageStart:
		e.outageStart()
	case evOutageEnd:
		e.outage = false
	case evRotate:
		e.rotate()
	case evSample:
		e.sample()
	case evStop:
		e.halt()
	case evPermitRequest:
		e.permitRequest(ev.pool, ev.n == 1)
	case evFillRefused:
		p := ev.pool
		e.step(p, actors.PermitRefused{})
	case evRestEnd:
		e.endRest()
	case evPermitReturn:
		e.permitReturn(ev.pool)
	case evPermitGrant:
		e.permitGrant(ev.pool)
	case evPermitDenied:
		p := ev.pool
		e.step(p, actors.PermitDenied{})
	case evStealIdle:
		e.stealIdle(ev.pool)
	case evStealRefused:
		e.stealRefused(ev.pool)
	case evLostCheck:
		e.lostCheck(ev.req)
	case evManagerAcquire:
		e.managerAcquire(ev.req)
	case evRouteCheck:
		e.routeCheck(ev.req)
	case evStart:
		e.startPool(ev.pool)
	case evPoolDrained:
		e.drainedToManager(ev.pool)
	case evWithdrawPermit:
		e.mgrStep(decide.WithdrawPermit{Pool: ev.pool.id}, nil)
	case evPermitWithdrawn:
		if p := ev.pool; !p.drained {
			e.step(p, actors.PermitWithdrawn{Removed: ev.n == 1})
		}
	case evStealCancelled:
		if p := ev.pool; !p.drained {
			e.step(p, actors.StealCancelled{})
		}
	case evBugCancel:
		r := ev.req
		e.step(r.pool, actors.Cancel{ID: r.h.id})
	}
}

// spinTicks: a pool that asks for this many Ticks in a row at one instant
// is spinning on its timer.
const spinTicks = 1000

// spinThrottle spaces the ticks of a pool found spinning.
const spinThrottle = 10 * time.Millisecond

// tick runs p's timers. A pool spinning on its timer (the bug
// TestLongLeasesDoNotSpinPoolTimers guards against) is reported once, then
// ticked at most every spinThrottle of virtual time so the run can go on.
func (e *engine) tick(p *vpool) {
	if p.lastTick == e.now {
		p.spins++
	} else {
		p.lastTick, p.spins = e.now, 0
	}
	if p.spins >= spinTicks {
		if !p.spinReported {
			p.spinReported = true
			st := p.sm.Stats()
			e.checks.violation(&e.res.Violations.StateMachine, "timer spin: pool of %s asked for %d Ticks at t=%.6fs (%d busy, %d idle, %d dialing, %d waiting, mint in flight %v)",
				p.ident.name, p.spins, time.Duration(e.now).Seconds(), st.Busy, st.Idle, st.Dialing, st.Waiters, p.minting)
		}
		e.schedule(event{at: e.at(spinThrottle), kind: evTick, pool: p, n: p.wakeGen})
		p.lastTick, p.spins = 0, 0
		return
	}
	e.step(p, actors.Tick{})
}

// halt stops arrivals.
func (e *engine) halt() {
	if !e.stopping {
		e.stopping = true
		e.stopAt = e.now
	}
}

// closeAll closes every pool, as Manager.Close does, once arrivals have
// stopped and every acquire has finished.
func (e *engine) closeAll() {
	e.closedAll = true
	e.mgrStep(decide.Close{}, nil)
}
