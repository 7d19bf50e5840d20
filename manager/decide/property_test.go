package decide

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// model is a driver of decide.Manager that plays the pools and the routes
// and checks every effect against what the manager may do.
type model struct {
	t   *rapid.T
	m   *Manager
	max int
	// per pool: outstanding permit requests, permits held, acquires sent
	// and seen, whether the manager told it to close, stopped it.
	asks, held    map[PoolID]int
	sent, seen    map[PoolID]uint64
	told, stopped map[PoolID]bool
	drained       map[PoolID]bool
	routes        map[string]PoolID // published
	closedRoute   map[PoolID]bool
	disc          map[PoolID]string
	inUse         int
	closedEmitted int
	// steals and cancels sent to each pool
	steals, cancels  map[PoolID]int
	lastCloseRouteOf PoolID
}

func newModel(t *rapid.T, max int) *model {
	return &model{t: t, m: New(Config{Server: "srv", MaxTotal: max}), max: max,
		asks: map[PoolID]int{}, held: map[PoolID]int{}, sent: map[PoolID]uint64{}, seen: map[PoolID]uint64{},
		told: map[PoolID]bool{}, stopped: map[PoolID]bool{}, drained: map[PoolID]bool{},
		routes: map[string]PoolID{}, closedRoute: map[PoolID]bool{}, disc: map[PoolID]string{},
		steals: map[PoolID]int{}, cancels: map[PoolID]int{}}
}

func (d *model) step(in Input) {
	d.m.Step(t0, in)
	for {
		var next Input
		for _, e := range d.m.Ready() {
			if f := d.effect(e); f != nil {
				next = f
			}
		}
		d.m.Advance()
		if next == nil {
			break
		}
		d.m.Step(t0, next)
	}
	require.LessOrEqual(d.t, d.inUse, d.max, "permits in use over MaxTotal")
	if !d.m.closed {
		require.LessOrEqual(d.t, d.m.book.stealsOut, len(d.m.book.queue),
			"steals left out beyond the requests queued close connections for nobody")
	}
	inUse, _ := d.m.Permits()
	require.Equal(d.t, d.inUse, inUse, "the book agrees with the permits granted and returned")
}

func (d *model) effect(e Effect) Input {
	switch e.Kind {
	case EffSpawn:
		_, taken := d.routes[e.Disc]
		require.False(d.t, taken, "a second pool spawned for %s while one is published", e.Disc)
		d.disc[e.Pool] = e.Disc
	case EffPublish:
		require.Contains(d.t, d.disc, e.Pool, "published before spawned")
		d.routes[e.Disc] = e.Pool
	case EffForward:
		require.False(d.t, d.told[e.Pool], "acquire forwarded to a closing pool")
		d.sent[e.Pool]++
	case EffCloseRoute:
		d.closedRoute[e.Pool] = true
		d.lastCloseRouteOf = e.Pool
		return RouteClosed{Pool: e.Pool, Sent: d.sent[e.Pool]}
	case EffReopenRoute:
		d.closedRoute[e.Pool] = false
	case EffWithdraw:
		require.Equal(d.t, e.Pool, d.routes[e.Disc])
		delete(d.routes, e.Disc)
	case EffClosePool:
		if e.Retire {
			require.Equal(d.t, d.sent[e.Pool], d.seen[e.Pool], "retired with an acquire in flight")
		}
		_, published := d.routes[d.disc[e.Pool]]
		require.False(d.t, published && d.routes[d.disc[e.Pool]] == e.Pool, "told to close while its route is published")
		d.told[e.Pool] = true
	case EffStop:
		require.True(d.t, d.drained[e.Pool], "stopped before drained")
		require.Equal(d.t, d.sent[e.Pool], d.seen[e.Pool], "stopped while an acquire may reach it")
		d.stopped[e.Pool] = true
	case EffClosed:
		d.closedEmitted++
		require.Equal(d.t, 1, d.closedEmitted, "Closed emitted twice")
	case EffGrantPermit:
		require.Positive(d.t, d.asks[e.Pool], "permit granted to a pool that did not ask")
		d.asks[e.Pool]--
		d.held[e.Pool]++
		d.inUse++
	case EffRefuseFill, EffDenyPermit:
		require.Positive(d.t, d.asks[e.Pool], "%s to a pool that did not ask", e.Kind)
		d.asks[e.Pool]--
	case EffSteal:
		require.Positive(d.t, d.held[e.Pool], "steal from a pool holding no permit")
		require.LessOrEqual(d.t, d.m.book.stealsOut, len(d.m.book.queue), "a steal beyond the requests queued closes a connection for nobody")
		d.steals[e.Pool]++
	case EffPermitWithdrawn:
		if e.Removed {
			require.Positive(d.t, d.asks[e.Pool], "a request withdrawn from a pool that had none")
			d.asks[e.Pool]--
		}
	case EffCancelSteal:
		d.cancels[e.Pool]++
		require.LessOrEqual(d.t, d.cancels[e.Pool], d.steals[e.Pool], "more steals called off than sent to pool %d", e.Pool)
	}
	return nil
}

// TestPropertyManagerDecisions drives decide.Manager with random acquires,
// deliveries, retirement requests, permit traffic (requests, returns,
// refusals, withdrawals), drains and Close, and checks every effect:
// permits never above MaxTotal and only to pools that asked, no more steals
// out than requests queued (after every step, until Close), a request
// withdrawn only from a pool that had one, no more steals called off at a
// pool than were sent to it, one published pool per identity, no retirement or stop while an
// acquire may be in flight, nothing forwarded to a closing pool, Closed once.
func TestPropertyManagerDecisions(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		d := newModel(rt, rapid.IntRange(1, 4).Draw(rt, "maxTotal"))
		discs := []string{"a", "b", "c"}
		pools := func() []PoolID {
			var ids []PoolID
			for id := range d.disc {
				if !d.stopped[id] {
					ids = append(ids, id)
				}
			}
			for i := 1; i < len(ids); i++ { // sorted, for replay
				for j := i; j > 0 && ids[j] < ids[j-1]; j-- {
					ids[j], ids[j-1] = ids[j-1], ids[j]
				}
			}
			return ids
		}
		steps := rapid.IntRange(1, 150).Draw(rt, "steps")
		for range steps {
			ps := pools()
			var p PoolID
			if len(ps) > 0 {
				p = ps[rapid.IntRange(0, len(ps)-1).Draw(rt, "pool")]
			}
			switch op := rapid.IntRange(0, 9).Draw(rt, "op"); {
			case op == 0:
				d.step(Acquire{Disc: discs[rapid.IntRange(0, 2).Draw(rt, "disc")]})
			case op == 1 && p != 0 && d.seen[p] < d.sent[p]:
				d.seen[p]++ // an acquire reaches its pool
			case op == 2 && p != 0 && !d.told[p]:
				d.step(RetireRequest{Pool: p, Seen: d.seen[p]})
			case op == 3 && p != 0 && !d.told[p]:
				d.asks[p]++
				d.step(PermitRequest{Pool: p, Fill: rapid.Bool().Draw(rt, "fill")})
			case op == 4 && p != 0 && d.held[p] > 0:
				d.held[p]--
				d.inUse--
				d.step(PermitReturn{Pool: p})
			case op == 5 && p != 0:
				d.step(StealRefused{Pool: p})
			case op == 6 && p != 0 && d.told[p] && !d.drained[p] && d.held[p] == 0 && d.asks[p] == 0:
				d.seen[p] = d.sent[p] // everything in flight has landed
				d.drained[p] = true
				d.step(Drained{Pool: p, Seen: d.seen[p], Sent: d.sent[p]})
			case op == 7 && rapid.IntRange(0, 10).Draw(rt, "close") == 0:
				d.step(Close{})
			case op == 8:
				d.step(ForceClose{})
			case op == 9 && p != 0:
				d.step(WithdrawPermit{Pool: p})
			}
		}
		// Close and drain everything: Closed must follow.
		d.step(Close{})
		for _, p := range pools() {
			for d.held[p] > 0 {
				d.held[p]--
				d.inUse--
				d.step(PermitReturn{Pool: p})
			}
			require.Zero(rt, d.asks[p], "pool %d still waits for a permit after Close", p)
			if !d.drained[p] {
				d.seen[p] = d.sent[p]
				d.drained[p] = true
				d.step(Drained{Pool: p, Seen: d.seen[p], Sent: d.sent[p]})
			}
		}
		require.Equal(rt, 1, d.closedEmitted, "Closed once every pool drained: %s", fmt.Sprint(d.disc))
	})
}
