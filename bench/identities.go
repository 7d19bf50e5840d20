package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"
)

// manySize is each identity's MaxSize in many_identities and mailbox.
const manySize = 4

// manyGoroutines run the many_identities throughput rows.
const manyGoroutines = 32

// zipfS is the Zipf exponent of the skewed popularity: with 10,000
// identities the most popular one takes about 8% of the acquires and the
// top 100 about half.
const zipfS = 1.1

// many_identities: the many-tenant service. Throughput with uniform and
// Zipf popularity, then the cost of an identity that has gone quiet: heap
// bytes and goroutines per idle identity pool, for idpool (one manager, a
// pool actor per identity) and for one *sql.DB per identity; and, for
// idpool, the heap kept per identity once its pool has retired.
func runManyIdentities(ctx context.Context, o Options) ([]Result, error) {
	counts := o.identityCounts([]int{1, 100, 10000}, []int{1, 1000})
	peers := []PoolFactory{IdpoolPeer, SQLDBPerIdentityPeer, PuddlePerIdentityPeer}
	var out []Result
	for _, n := range counts {
		env := NewEnv(n)
		res, err := measureIdleMemory(ctx, o, env, peers, n)
		if err != nil {
			return nil, err
		}
		out = append(out, res...)
		if n > 1 {
			res, err := measureRetiredMemory(ctx, o, env, n)
			if err != nil {
				return nil, err
			}
			out = append(out, res...)
		}
		dists := []string{"uniform", "zipf"}
		if n == 1 {
			dists = dists[:1]
		}
		for _, dist := range dists {
			res, err := measurePairs(ctx, o, pairSetup{
				scenario:   ScenarioManyIdentities,
				params:     Params{{"identities", n}, {"popularity", dist}, {"measure", "throughput"}, {"goroutines", manyGoroutines}},
				env:        env,
				peers:      peers,
				size:       manySize,
				identities: n,
				work:       Workload{Goroutines: manyGoroutines, Identities: identitySequences(n, manyGoroutines, dist, 4096)},
				prepare:    func(ctx context.Context, p Pool) error { return touchAll(ctx, p, n) },
			})
			if err != nil {
				return nil, err
			}
			out = append(out, res...)
		}
	}
	return out, nil
}

// identitySequences returns, per worker, length identities drawn from the
// popularity distribution, seeded so every peer gets the same sequences.
func identitySequences(n, workers int, dist string, length int) [][]int32 {
	seqs := make([][]int32, workers)
	for w := range seqs {
		r := rand.New(rand.NewPCG(uint64(w)+1, 0x1d9001))
		var z *rand.Zipf
		if dist == "zipf" && n > 1 {
			z = rand.NewZipf(r, zipfS, 1, uint64(n-1))
		}
		s := make([]int32, length)
		for i := range s {
			if z != nil {
				s[i] = int32(z.Uint64())
			} else {
				s[i] = int32(r.IntN(n))
			}
		}
		seqs[w] = s
	}
	return seqs
}

// touchAll acquires and releases once for every identity, so each has a pool
// with one idle connection.
func touchAll(ctx context.Context, p Pool, n int) error {
	for i := range n {
		c, err := p.Acquire(ctx, i)
		if err != nil {
			return fmt.Errorf("identity %d: %w", i, err)
		}
		p.Release(c)
	}
	return nil
}

// heapState is a settled view of the heap and the goroutines.
type heapState struct {
	heap       uint64
	goroutines int
}

// settle waits for goroutines started by earlier work to end (the pool
// actors' mailbox goroutines, dial goroutines), then collects garbage twice
// and reads the live heap.
func settle() heapState {
	n := runtime.NumGoroutine()
	for i := 0; i < 50; i++ {
		time.Sleep(2 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			break
		}
		n = m
	}
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return heapState{heap: ms.HeapAlloc, goroutines: runtime.NumGoroutine()}
}

// measureIdleMemory builds each peer with n identities, touches each once,
// and measures the live heap and goroutines it holds per identity. It also
// measures what n bare memdb connections hold, which is subtracted to give
// the pool's own share.
func measureIdleMemory(ctx context.Context, o Options, env *Env, peers []PoolFactory, n int) ([]Result, error) {
	params := Params{{"identities", n}, {"measure", "memory"}}
	connBytes, err := bareConnBytes(ctx, env, max(n, connBaselineCount))
	if err != nil {
		return nil, err
	}
	trials := make([]trialFunc, len(peers))
	for i, f := range peers {
		trials[i] = func(ctx context.Context) (m map[string]float64, err error) {
			p, err := f.New(env, manySize, n)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.Name, err)
			}
			defer func() { err = errors.Join(err, p.Close()) }()
			// The peer's fixed cost (idpool's manager and actor system) is
			// left out: only what each identity adds is counted.
			before := settle()
			if err := touchAll(ctx, p, n); err != nil {
				return nil, fmt.Errorf("%s: %w", f.Name, err)
			}
			after := settle()
			per := (float64(after.heap) - float64(before.heap)) / float64(n)
			return map[string]float64{
				MBytesPerIdent:  per,
				MPoolBytesIdent: per - connBytes,
				MGoroutinesPer:  float64(after.goroutines-before.goroutines) / float64(n),
				"conn_bytes":    connBytes,
			}, nil
		}
	}
	runs, err := interleave(ctx, o.Runs, trials)
	if err != nil {
		return nil, err
	}
	var res []Result
	for i, f := range peers {
		res = append(res, summarize(ScenarioManyIdentities, f.Name, params, MBytesPerIdent, runs[i]))
	}
	o.progress("  %-40s %s", params, brief(res, MBytesPerIdent, "heap B/identity"))
	return res, nil
}

// connBaselineCount connections at least are measured for the baseline, so
// that one connection's share is not lost in the heap's noise.
const connBaselineCount = 2000

// bareConnBytes is the live heap one memdb connection holds (with memdb's
// own records of it), measured over n connections.
func bareConnBytes(ctx context.Context, env *Env, n int) (float64, error) {
	before := settle()
	conns := make([]any, n)
	for i := range conns {
		c, err := env.DB.Connector(env.Label(i % env.N())).Connect(ctx)
		if err != nil {
			return 0, err
		}
		conns[i] = c
	}
	after := settle()
	per := (float64(after.heap) - float64(before.heap) - float64(n*16)) / float64(n) // less the slice
	runtime.KeepAlive(conns)
	return per, nil
}
