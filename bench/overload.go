package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// overloadHold is how long each goroutine keeps its connection: a sleep, as
// a query waiting on the network would. On Linux a sleep this short lasts
// about a millisecond (timer granularity), which the results show as the
// mean hold; only its being the same for every peer matters.
const overloadHold = 500 * time.Microsecond

// overloadMinSamples is the fewest acquire waits a timed run records: its
// p99 then has ten slower waits above it. A run ends at its duration only
// once it has them; without this floor, --quick --run-time 1ms ran 6 ms,
// some 50 waits a peer, and reported their slowest as the p99 the overload
// target judges (a run that ended before its first acquire, 0 µs).
const overloadMinSamples = 1000

// overload_tail: 4x more goroutines than connections, each acquiring,
// holding the connection briefly and releasing it, over and over. Every
// acquire waits; the histogram of those waits shows the order in which a
// pool serves its waiters. A FIFO pool makes every wait about three holds
// long; database/sql hands a returned connection to a random waiter, which
// shortens some waits and stretches others into the tail. The rows also give
// Release's own p99: how long a caller's goroutine is kept by the pool
// (idpool's mailbox lends it for at most a bounded batch).
func runOverload(ctx context.Context, o Options) ([]Result, error) {
	sizes := []int{8, 64}
	dur := max(3*o.RunTime, time.Second)
	if o.Quick {
		sizes = []int{8}
		dur = 6 * o.RunTime
	}
	var out []Result
	for _, size := range sizes {
		g := 4 * size
		params := Params{{"max_size", size}, {"goroutines", g}, {"hold", overloadHold.String()}}
		res, err := measureOverload(ctx, o, params, size, g, dur)
		if err != nil {
			return nil, err
		}
		out = append(out, res...)
	}
	return out, nil
}

func measureOverload(ctx context.Context, o Options, params Params, size, g int, dur time.Duration) (res []Result, err error) {
	env := NewEnv(1)
	peers := []PoolFactory{ChanPeer, PuddlePeer, DatabaseSQLPeer, IdpoolPeer}
	pools := make([]Pool, 0, len(peers))
	defer func() {
		for _, p := range pools {
			err = errors.Join(err, p.Close())
		}
	}()
	for _, f := range peers {
		p, err := f.New(env, size, 1)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		pools = append(pools, p)
		if err := warm(ctx, p, 0, size); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		// One short untimed round settles the runtime (goroutine stacks,
		// the pool's internal queues) before the timed ones.
		if _, err := runHold(ctx, p, g, overloadHold, dur/4, 0); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
	}
	trials := make([]trialFunc, len(pools))
	for i := range pools {
		trials[i] = func(ctx context.Context) (map[string]float64, error) {
			m, err := runHold(ctx, pools[i], g, overloadHold, dur, overloadMinSamples)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", peers[i].Name, err)
			}
			return m, nil
		}
	}
	runs, err := interleave(ctx, o.Runs, trials)
	if err != nil {
		return nil, err
	}
	for i, f := range peers {
		res = append(res, summarize(ScenarioOverload, f.Name, params, MP99, runs[i]))
	}
	o.progress("  %-40s %s", params, brief(res, MP99, "µs p99 wait"))
	return res, nil
}

// runHold runs g goroutines for dur, and after it until they have recorded
// minSamples acquire waits, each acquiring, holding for hold and releasing in
// a loop, and returns the distribution of acquire waits.
func runHold(ctx context.Context, p Pool, g int, hold, dur time.Duration, minSamples int64) (map[string]float64, error) {
	hists := make([]*hdrhistogram.Histogram, g)
	// Release's own duration: a release that runs other callers' work
	// inline (a lent goroutine) shows here.
	rels := make([]*hdrhistogram.Histogram, g)
	var (
		wg       sync.WaitGroup
		start    = make(chan struct{})
		stop     atomic.Bool
		timeUp   atomic.Bool
		samples  atomic.Int64
		firstErr atomic.Pointer[error]
	)
	for w := range g {
		h := hdrhistogram.New(1, int64(time.Minute), 3)
		hists[w] = h
		rh := hdrhistogram.New(1, int64(time.Minute), 3)
		rels[w] = rh
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for !stop.Load() {
				t0 := time.Now()
				c, err := p.Acquire(ctx, 0)
				wait := time.Since(t0)
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					stop.Store(true)
					return
				}
				_ = h.RecordValue(max(wait.Nanoseconds(), 1))
				if samples.Add(1) >= minSamples && timeUp.Load() {
					stop.Store(true)
				}
				time.Sleep(hold)
				r0 := time.Now()
				p.Release(c)
				_ = rh.RecordValue(max(time.Since(r0).Nanoseconds(), 1))
			}
		}()
	}
	t0 := time.Now()
	close(start)
	workersDone := make(chan struct{})
	go func() { wg.Wait(); close(workersDone) }()
	select {
	case <-time.After(dur):
		timeUp.Store(true)
		if samples.Load() >= minSamples {
			stop.Store(true)
		}
		// Else the workers stop at their minSamples-th wait, or at
		// the first error, or when ctx ends.
		select {
		case <-workersDone:
		case <-ctx.Done():
		}
	case <-workersDone: // an error stopped them all
	case <-ctx.Done():
	}
	stop.Store(true)
	<-workersDone
	elapsed := time.Since(t0)
	if e := firstErr.Load(); e != nil {
		return nil, *e
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	all, released := hdrhistogram.New(1, int64(time.Minute), 3), hdrhistogram.New(1, int64(time.Minute), 3)
	for w, h := range hists {
		all.Merge(h)
		released.Merge(rels[w])
	}
	m := waitMetrics(all, elapsed)
	m[MReleaseP99] = float64(released.ValueAtQuantile(99)) / 1e3
	return m, nil
}

// waitMetrics turns a histogram of waits in nanoseconds into the reported
// percentiles (µs), fairness (max/mean) and acquires per second.
func waitMetrics(h *hdrhistogram.Histogram, elapsed time.Duration) map[string]float64 {
	us := func(ns int64) float64 { return float64(ns) / 1e3 }
	mean := h.Mean() / 1e3
	m := map[string]float64{
		MP50:       us(h.ValueAtQuantile(50)),
		MP99:       us(h.ValueAtQuantile(99)),
		MP999:      us(h.ValueAtQuantile(99.9)),
		MMax:       us(h.Max()),
		MMean:      mean,
		MOpsPerSec: float64(h.TotalCount()) / elapsed.Seconds(),
		"samples":  float64(h.TotalCount()),
	}
	if mean > 0 {
		m[MFairness] = us(h.Max()) / mean
	}
	return m
}
