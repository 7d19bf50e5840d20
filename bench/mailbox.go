package bench

import (
	"context"

	"github.com/idpool/idpool/manager"
)

// mailboxGoroutines callers keep the manager's and the pools' mailboxes
// busy, so each mailbox goroutine handles many messages per wake-up.
const mailboxGoroutines = 64

// messagesPerPair is the mailbox messages one acquire+release pair costs on
// a pool hit: the Acquire, sent straight to the pool actor over the route the
// manager published, and the Release. (A miss adds one: the Acquire goes
// through the manager actor. The grant comes back on a channel, not through
// a mailbox.)
const messagesPerPair = 2

// mailbox: how many messages per second the actor layer moves when every
// acquire finds an idle connection, spread over 1 to 10,000 pool actors.
// Each caller walks the identities in a stride of its own, so callers rarely
// meet on one pool. The manager actor is the one mailbox every acquire
// passes through; this is its ceiling.
func runMailbox(ctx context.Context, o Options) ([]Result, error) {
	counts := o.identityCounts([]int{1, 100, 1000, 10000}, []int{1, 100})
	g := mailboxGoroutines
	if o.Quick {
		g = 16
	}
	idpool := PoolFactory{Name: PeerIdpool, New: func(env *Env, _, identities int) (Pool, error) {
		return NewIdpoolPool(env, manager.Config{MaxSize: g}, identities)
	}}
	var out []Result
	for _, n := range counts {
		seqs := make([][]int32, g)
		for w := range seqs {
			length := max(n, 1)
			s := make([]int32, length)
			for i := range s {
				s[i] = int32((w + i*g) % n)
			}
			seqs[w] = s
		}
		res, err := measurePairs(ctx, o, pairSetup{
			scenario:   ScenarioMailbox,
			params:     Params{{"pool_actors", n}, {"goroutines", g}},
			env:        NewEnv(n),
			peers:      []PoolFactory{idpool},
			size:       g,
			identities: n,
			work:       Workload{Goroutines: g, Identities: seqs},
			prepare: func(ctx context.Context, p Pool) error {
				if n == 1 {
					return warm(ctx, p, 0, g)
				}
				return touchAll(ctx, p, n)
			},
			extra: func(m map[string]float64) {
				m[MMsgsPerSec] = m[MOpsPerSec] * messagesPerPair
			},
		})
		if err != nil {
			return nil, err
		}
		out = append(out, res...)
	}
	return out, nil
}
