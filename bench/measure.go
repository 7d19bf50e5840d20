package bench

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// opRun is one timed run of acquire+release pairs.
type opRun struct {
	Ops     int64
	Elapsed time.Duration
	Mallocs uint64
	Bytes   uint64
}

// metrics turns the run into per-operation figures.
func (r opRun) metrics() map[string]float64 {
	ops := float64(max(r.Ops, 1))
	return map[string]float64{
		MNsPerOp:     float64(r.Elapsed.Nanoseconds()) / ops,
		MOpsPerSec:   ops / r.Elapsed.Seconds(),
		MAllocsPerOp: float64(r.Mallocs) / ops,
		MBytesPerOp:  float64(r.Bytes) / ops,
	}
}

// Workload says what each goroutine of a run does.
type Workload struct {
	// Goroutines run the pairs concurrently.
	Goroutines int
	// Identities, when set, gives each goroutine the sequence of identities
	// it acquires, cycled: Identities[worker][i % len]. Nil: identity 0.
	Identities [][]int32
	// Op, when set, runs on the connection between acquire and release.
	Op func(Conn) error
}

// runPairs runs n acquire+release pairs on p, spread evenly over the
// workload's goroutines, and measures the wall time and the heap allocations
// of the whole process meanwhile (as testing.B does).
func runPairs(ctx context.Context, p Pool, w Workload, n int64) (opRun, error) {
	g := max(w.Goroutines, 1)
	var (
		ready, done sync.WaitGroup
		start       = make(chan struct{})
		firstErr    atomic.Pointer[error]
		stop        atomic.Bool
	)
	fail := func(err error) {
		firstErr.CompareAndSwap(nil, &err)
		stop.Store(true)
	}
	for worker := range g {
		count := n / int64(g)
		if int64(worker) < n%int64(g) {
			count++
		}
		var seq []int32
		if w.Identities != nil {
			seq = w.Identities[worker%len(w.Identities)]
		}
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			for i := range count {
				if i&63 == 0 && stop.Load() {
					return
				}
				id := 0
				if seq != nil {
					id = int(seq[int(i)%len(seq)])
				}
				c, err := p.Acquire(ctx, id)
				if err != nil {
					fail(err)
					return
				}
				if w.Op != nil {
					if err := w.Op(c); err != nil {
						p.Release(c)
						fail(err)
						return
					}
				}
				p.Release(c)
			}
		}()
	}
	ready.Wait()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	close(start)
	done.Wait()
	elapsed := time.Since(t0)
	runtime.ReadMemStats(&after)
	if e := firstErr.Load(); e != nil {
		return opRun{}, *e
	}
	return opRun{Ops: n, Elapsed: elapsed, Mallocs: after.Mallocs - before.Mallocs, Bytes: after.TotalAlloc - before.TotalAlloc}, nil
}

// calibrate finds how many pairs make a run last about target, running a few
// growing trial runs (which also warm the pool up).
func calibrate(ctx context.Context, p Pool, w Workload, target time.Duration) (int64, error) {
	n := int64(max(w.Goroutines, 1)) * 16
	for {
		r, err := runPairs(ctx, p, w, n)
		if err != nil {
			return 0, err
		}
		if r.Elapsed >= target/4 || n >= 1<<30 {
			per := float64(r.Elapsed) / float64(n)
			if per <= 0 {
				per = 1
			}
			return max(int64(float64(target)/per), int64(max(w.Goroutines, 1))), nil
		}
		if r.Elapsed < target/100 {
			n *= 10
		} else {
			n = int64(float64(n) * float64(target/2) / float64(max(r.Elapsed, 1)))
		}
	}
}

// errSkip marks a measurement that cannot run here (a server that is not
// installed, a piece not built yet); its message says why.
var errSkip = errors.New("skipped")
