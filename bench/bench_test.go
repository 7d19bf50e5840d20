package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// The testing.B benchmarks drive the same peers as the runner, for
// `go test -bench`, benchstat and pprof, e.g.
//
//	go test ./bench -run '^$' -bench 'HotPath/idpool/size=8/g=8$' -cpuprofile cpu.out -memprofile mem.out

var hotPeers = []PoolFactory{ChanPeer, PuddlePeer, DatabaseSQLPeer, IdpoolPeer}

// runParallelPairs runs acquire+release pairs from about g goroutines:
// RunParallel starts a multiple of GOMAXPROCS, so g is rounded up to one.
func runParallelPairs(b *testing.B, p Pool, g int, identities [][]int32) {
	ctx := context.Background()
	b.ReportAllocs()
	if g == 1 && identities == nil {
		b.ResetTimer()
		for b.Loop() {
			c, err := p.Acquire(ctx, 0)
			if err != nil {
				b.Fatal(err)
			}
			p.Release(c)
		}
		return
	}
	b.SetParallelism(max(1, (g+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0)))
	var worker atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var seq []int32
		if identities != nil {
			seq = identities[int(worker.Add(1)-1)%len(identities)]
		}
		i := 0
		for pb.Next() {
			id := 0
			if seq != nil {
				id = int(seq[i%len(seq)])
				i++
			}
			c, err := p.Acquire(ctx, id)
			if err != nil {
				b.Error(err)
				return
			}
			p.Release(c)
		}
	})
}

func newPool(b *testing.B, f PoolFactory, env *Env, size, identities int) Pool {
	b.Helper()
	p, err := f.New(env, size, identities)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := p.Close(); err != nil {
			b.Error(err)
		}
	})
	return p
}

// BenchmarkHotPath is scenario hot_path: a warm pool, one identity.
func BenchmarkHotPath(b *testing.B) {
	for _, f := range hotPeers {
		for _, size := range []int{8, 64} {
			for _, g := range []int{1, 8, 32, 128} {
				b.Run(fmt.Sprintf("%s/size=%d/g=%d", f.Name, size, g), func(b *testing.B) {
					p := newPool(b, f, NewEnv(1), size, 1)
					if err := warm(context.Background(), p, 0, size); err != nil {
						b.Fatal(err)
					}
					runParallelPairs(b, p, g, nil)
				})
			}
		}
	}
}

// BenchmarkIdpoolNoAcquireTimeout is idpool's hot path with AcquireTimeout
// off, so a ctx without deadline gets no timer: it shows what the default
// timeout costs per acquire.
func BenchmarkIdpoolNoAcquireTimeout(b *testing.B) {
	for _, g := range []int{1, 8} {
		b.Run(fmt.Sprintf("g=%d", g), func(b *testing.B) {
			env := NewEnv(1)
			p, err := NewIdpoolPool(env, manager.Config{MaxSize: 8, AcquireTimeout: -1}, 1)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = p.Close() })
			if err := warm(context.Background(), p, 0, 8); err != nil {
				b.Fatal(err)
			}
			runParallelPairs(b, p, g, nil)
		})
	}
}

// BenchmarkManyIdentities is scenario many_identities' throughput: 32
// goroutines over 1,000 identities.
func BenchmarkManyIdentities(b *testing.B) {
	const n = 1000
	for _, f := range []PoolFactory{IdpoolPeer, SQLDBPerIdentityPeer, PuddlePerIdentityPeer} {
		for _, dist := range []string{"uniform", "zipf"} {
			b.Run(fmt.Sprintf("%s/identities=%d/%s", f.Name, n, dist), func(b *testing.B) {
				p := newPool(b, f, NewEnv(n), manySize, n)
				if err := touchAll(context.Background(), p, n); err != nil {
					b.Fatal(err)
				}
				runParallelPairs(b, p, manyGoroutines, identitySequences(n, manyGoroutines, dist, 4096))
			})
		}
	}
}

// BenchmarkMailbox is scenario mailbox: pairs through the manager to N pool
// actors, reported as mailbox messages per second.
func BenchmarkMailbox(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("pool_actors=%d", n), func(b *testing.B) {
			g := mailboxGoroutines
			p, err := NewIdpoolPool(NewEnv(n), manager.Config{MaxSize: g}, n)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = p.Close() })
			ctx := context.Background()
			if n == 1 {
				err = warm(ctx, p, 0, g)
			} else {
				err = touchAll(ctx, p, n)
			}
			if err != nil {
				b.Fatal(err)
			}
			seqs := make([][]int32, g)
			for w := range seqs {
				seqs[w] = make([]int32, n)
				for i := range seqs[w] {
					seqs[w][i] = int32((w + i*g) % n)
				}
			}
			runParallelPairs(b, p, g, seqs)
			b.ReportMetric(float64(b.N)*messagesPerPair/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkIdleIdentityPool reports the live heap and goroutines each idle
// identity pool holds (one idle connection each, connection included).
func BenchmarkIdleIdentityPool(b *testing.B) {
	const n = 1000
	for _, f := range []PoolFactory{IdpoolPeer, SQLDBPerIdentityPeer, PuddlePerIdentityPeer} {
		b.Run(f.Name, func(b *testing.B) {
			env := NewEnv(n)
			var bytes, gor float64
			for b.Loop() {
				p, err := f.New(env, manySize, n)
				if err != nil {
					b.Fatal(err)
				}
				before := settle()
				if err := touchAll(context.Background(), p, n); err != nil {
					b.Fatal(err)
				}
				after := settle()
				bytes += (float64(after.heap) - float64(before.heap)) / n
				gor += float64(after.goroutines-before.goroutines) / n
				if err := p.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(bytes/float64(b.N), "B/identity")
			b.ReportMetric(gor/float64(b.N), "goroutines/identity")
		})
	}
}

// BenchmarkEndToEnd is scenario end_to_end against sim/tds (in this
// process, so its allocations count too): SELECT 1 through plain
// database/sql and through idpool's facade.
func BenchmarkEndToEnd(b *testing.B) {
	srv, err := startTDS()
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = srv.close() }()
	for _, name := range []string{PeerDatabaseSQL, PeerIdpool} {
		b.Run("tds/"+name, func(b *testing.B) {
			var p *queryPool
			if name == PeerDatabaseSQL {
				var err error
				if p, err = newPlainQueryPool(srv, ""); err != nil {
					b.Fatal(err)
				}
			} else {
				m, err := manager.New(manager.Config{Server: srv.key, Dialer: srv.dialer, MaxSize: e2eSize})
				if err != nil {
					b.Fatal(err)
				}
				p = &queryPool{db: manager.OpenDB(m, manager.WithDefaultIdentity(tokens.SQLLogin())), m: m}
			}
			defer func() { _ = p.Close() }()
			if err := p.warm(context.Background(), e2eSize); err != nil {
				b.Fatal(err)
			}
			runParallelPairs(b, p, e2eGoroutines, nil)
		})
	}
}
