package bench

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sync"
	"testing"

	"github.com/idpool/idpool/sim/memdb"
)

// The many-identities floor experiment (issue #15): what a pair costs at the
// least when every identity has its own pool actor, as idpool's design
// requires, driven exactly like the many_identities scenario (32
// goroutines, manySize connections per identity, the same uniform and Zipf
// identity sequences, every identity touched once first). The floor peer
// (floor_test.go) is one floor actor per identity: two protoactor messages
// per pair through idpool's mailbox, one 256-byte allocation, the direct
// grant, and the actor found by indexing a slice with the identity's number
// (no map, no key, no route). No state machine, clock, guard or keys.
//
// The design floor (floor_design_test.go) runs beside it: the floor plus a
// clock reading per message and the session reset on release, which the
// design and issue #11 require of every pair. So do the keyed design floor
// (floor_keyed_test.go: keys, routes, the retirement count and the guard),
// the complete floor (floor_complete_test.go: every decision of idpool's
// hit path, in an actor written for it) and idpool's own pool actor
// without the manager (floor_actor_test.go).
//
// The target is idpool at most 1.5x one *sql.DB per identity. If the design
// floor alone is above 1.5x, no rework inside the design reaches it; if it
// is below, idpool's distance from it is what a rework could win.
//
//	go test ./bench -run '^$' -bench 'FloorIdentities' -count 6 -benchtime 300ms | benchstat -col /peer -
//	go test ./bench -run '^$' -bench 'FloorIdentities/identities=10000/uniform/peer=floor' -cpuprofile cpu.out

// BenchmarkFloorIdentities runs the floors next to one *sql.DB per identity
// and idpool at 100 and 10,000 identities, uniform and Zipf, 32 goroutines.
// Besides ns/op it reports cpu-ns/op, the process's CPU time per pair.
func BenchmarkFloorIdentities(b *testing.B) {
	peers := []PoolFactory{floorPeer, floorDesignPeer, floorKeyedPeer, floorCompletePeer, floorActorPeer, SQLDBPerIdentityPeer, IdpoolPeer}
	for _, n := range []int{100, 10000} {
		env := NewEnv(n)
		for _, dist := range []string{"uniform", "zipf"} {
			seqs := identitySequences(n, manyGoroutines, dist, 4096)
			for _, f := range peers {
				b.Run(fmt.Sprintf("identities=%d/%s/peer=%s", n, dist, f.Name), func(b *testing.B) {
					p := newPool(b, f, env, manySize, n)
					if err := touchAll(context.Background(), p, n); err != nil {
						b.Fatal(err)
					}
					cpu0 := processCPU()
					runParallelPairs(b, p, manyGoroutines, seqs)
					if cpu := processCPU() - cpu0; cpu > 0 {
						b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
					}
				})
			}
		}
	}
}

// TestFloorKeepsIdentitiesApart drives the floor over many identities from
// more goroutines than one identity has connections: every connection
// granted is one of the identity asked for (memdb's label), no connection
// is held twice at once, and no identity opens more than its size.
func TestFloorKeepsIdentitiesApart(t *testing.T) {
	const n, size = 50, 2
	env := NewEnv(n)
	p, err := floorPeer.New(env, size, n)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Close() }()
	driveIdentities(t, p, env, identitySequences(n, 8, "zipf", 400), func(c Conn) driver.Conn { return c.(*floorLease).conn })
	open := map[string]int{}
	for _, c := range env.DB.Conns() {
		open[c.Identity]++
	}
	for i := range n {
		if open[env.Label(i)] > size {
			t.Errorf("identity %d: %d connections opened, want at most %d", i, open[env.Label(i)], size)
		}
	}
}

// driveIdentities runs each sequence of identities on a goroutine of its
// own, acquiring and releasing through p, and checks every grant: the
// connection (connOf gives it) is one of the identity asked for (memdb's
// label), and no other goroutine holds it.
func driveIdentities(t *testing.T, p Pool, env *Env, seqs [][]int32, connOf func(Conn) driver.Conn) {
	t.Helper()
	var held sync.Map // test only: which connections are out
	var wg sync.WaitGroup
	for _, seq := range seqs {
		wg.Go(func() {
			for _, id := range seq {
				c, err := p.Acquire(context.Background(), int(id))
				if err != nil {
					t.Error(err)
					return
				}
				conn := connOf(c)
				if got := conn.(*memdb.Conn).Identity(); got != env.Label(int(id)) {
					t.Errorf("identity %d got a connection of %q", id, got)
				}
				if _, dup := held.LoadOrStore(conn, true); dup {
					t.Error("a connection granted twice")
				}
				held.Delete(conn)
				p.Release(c)
			}
		})
	}
	wg.Wait()
}
