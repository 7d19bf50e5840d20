package fleet_test

import (
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// This property test checks the permit protocol the Budget runs, against an
// in-memory model of the etcd operations it uses (a revisioned key space,
// leases that expire, a transaction comparing mod revisions over a prefix),
// over random interleavings of grant, read, commit, open, close, give back,
// renew, crash, reconnect and the passing of time. Each process's read and
// its transaction are separate steps, so other processes' writes and lease
// expiries fall in between, as they do on a real cluster.
//
// Invariants after every step: the counts in etcd sum to at most the cap; a
// process has no more connections open than etcd records permits for it; and
// the connections open across all processes are at most the cap.

const (
	modelTTL    = 3 * time.Second
	modelMargin = 600 * time.Millisecond // a fifth of the TTL, as validFor
)

type modelKV struct {
	val, modRev int64
	lease       int
}

type modelEtcd struct {
	rev    int64
	keys   map[string]modelKV
	leases map[int]time.Duration // lease -> expiry
	next   int
}

func (e *modelEtcd) put(key string, val int64, lease int) bool {
	if _, ok := e.leases[lease]; !ok {
		return false // ErrLeaseNotFound
	}
	e.rev++
	e.keys[key] = modelKV{val: val, modRev: e.rev, lease: lease}
	return true
}

func (e *modelEtcd) expire(now time.Duration) {
	for l, exp := range e.leases {
		if exp <= now {
			delete(e.leases, l)
			for k, kv := range e.keys {
				if kv.lease == l {
					e.rev++
					delete(e.keys, k)
				}
			}
		}
	}
}

func (e *modelEtcd) sum() (s int64) {
	for _, kv := range e.keys {
		s += kv.val
	}
	return s
}

type modelRead struct {
	rev       int64
	sum, mine int64
}

type modelProc struct {
	alive      bool
	lease      int
	validUntil time.Duration
	held, open int64
	read       *modelRead
}

func (p *modelProc) key() string { return fmt.Sprintf("h/%d", p.lease) }

func (p *modelProc) valid(now time.Duration) bool { return p.lease != 0 && now < p.validUntil }

func TestPermitProtocolNeverPassesTheCap(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cap := rapid.Int64Range(1, 6).Draw(t, "cap")
		n := rapid.IntRange(1, 4).Draw(t, "processes")
		e := &modelEtcd{keys: map[string]modelKV{}, leases: map[int]time.Duration{}}
		procs := make([]*modelProc, n)
		for i := range procs {
			procs[i] = &modelProc{alive: true}
		}
		var now time.Duration
		// pickWhere draws one of the processes for which ok holds, or nil,
		// so that few steps are wasted on processes that cannot act.
		pickWhere := func(t *rapid.T, ok func(*modelProc) bool) *modelProc {
			var can []*modelProc
			for _, p := range procs {
				if ok(p) {
					can = append(can, p)
				}
			}
			if len(can) == 0 {
				return nil
			}
			return can[rapid.IntRange(0, len(can)-1).Draw(t, "proc")]
		}
		pick := func(t *rapid.T) *modelProc { return procs[rapid.IntRange(0, n-1).Draw(t, "proc")] }
		// shedIfExpired: a process stops counting on its lease at validUntil
		// and has closed its connections by then (the margin is for that).
		shedIfExpired := func() {
			for _, p := range procs {
				if p.lease != 0 && now >= p.validUntil {
					p.lease, p.held, p.open, p.read = 0, 0, 0, nil
				}
			}
		}
		t.Repeat(map[string]func(*rapid.T){
			"grant": func(t *rapid.T) {
				p := pickWhere(t, func(p *modelProc) bool { return p.alive && p.lease == 0 })
				if p == nil {
					return
				}
				e.next++
				sent := now
				e.leases[e.next] = now + modelTTL // etcd counts from receipt, later than sent
				p.lease, p.held, p.read = e.next, 0, nil
				p.validUntil = sent + modelTTL - modelMargin
			},
			"read": func(t *rapid.T) {
				p := pickWhere(t, func(p *modelProc) bool { return p.alive && p.valid(now) && p.read == nil })
				if p == nil {
					return
				}
				r := &modelRead{rev: e.rev}
				for k, kv := range e.keys {
					r.sum += kv.val
					if k == p.key() {
						r.mine = kv.val
					}
				}
				p.read = r
			},
			"commit": func(t *rapid.T) {
				p := pickWhere(t, func(p *modelProc) bool { return p.alive && p.read != nil })
				if p == nil {
					return
				}
				r := p.read
				p.read = nil
				take := min(rapid.Int64Range(1, 3).Draw(t, "k"), cap-r.sum)
				if take <= 0 {
					return
				}
				for _, kv := range e.keys { // Compare(ModRevision(prefix) < rev+1)
					if kv.modRev > r.rev {
						return
					}
				}
				if e.put(p.key(), r.mine+take, p.lease) && p.lease != 0 {
					p.held = r.mine + take
				}
			},
			"open": func(t *rapid.T) {
				if p := pickWhere(t, func(p *modelProc) bool { return p.alive && p.valid(now) && p.open < p.held }); p != nil {
					p.open++
				}
			},
			"close": func(t *rapid.T) {
				p := pick(t)
				if p.open > 0 {
					p.open--
				}
			},
			"giveBack": func(t *rapid.T) {
				p := pick(t)
				if !p.alive || !p.valid(now) || p.held <= p.open {
					return
				}
				p.held -= rapid.Int64Range(1, p.held-p.open).Draw(t, "n")
				e.put(p.key(), p.held, p.lease) // a failed write leaves etcd higher: safe
			},
			"renew": func(t *rapid.T) {
				p := pick(t)
				if !p.alive || p.lease == 0 {
					return
				}
				if _, ok := e.leases[p.lease]; !ok {
					p.lease, p.held, p.open, p.read = 0, 0, 0, nil // ErrLeaseNotFound: lost
					return
				}
				sent := now - rapid.SampledFrom([]time.Duration{0, 100 * time.Millisecond}).Draw(t, "rtt")
				e.leases[p.lease] = now + modelTTL
				p.validUntil = max(p.validUntil, sent+modelTTL-modelMargin)
			},
			"crash": func(t *rapid.T) {
				p := pick(t)
				p.alive, p.open, p.read = false, 0, nil // the kernel closes its sockets
			},
			"restart": func(t *rapid.T) {
				p := pick(t)
				if !p.alive {
					*p = modelProc{alive: true}
				}
			},
			"time": func(t *rapid.T) {
				step := rapid.SampledFrom([]time.Duration{10 * time.Millisecond, 500 * time.Millisecond, time.Second, modelTTL}).Draw(t, "dt")
				// Processes notice their local deadline first: it is
				// always before etcd's expiry of the same lease.
				for d := time.Duration(0); d < step; d += 10 * time.Millisecond {
					now += 10 * time.Millisecond
					shedIfExpired()
					e.expire(now)
				}
			},
			"": func(t *rapid.T) {
				if s := e.sum(); s > cap {
					t.Fatalf("etcd holds %d permits against a cap of %d", s, cap)
				}
				var open int64
				for i, p := range procs {
					open += p.open
					// A process uses only permits etcd records for it.
					if p.open > 0 && e.keys[p.key()].val < p.open {
						t.Fatalf("process %d has %d connections open but etcd records %d permits for it", i, p.open, e.keys[p.key()].val)
					}
				}
				if open > cap {
					t.Fatalf("%d connections open against a cap of %d", open, cap)
				}
			},
		})
	})
}
