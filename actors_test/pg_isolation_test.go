package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// pgIsolationOps is how many calls each of the 32 goroutines makes.
const pgIsolationOps = 50

// TestPGIsolation100Identities: 32 goroutines call as 100 identities, each a
// role of its own whose password is its token, through every way in
// (*sql.DB calls, transactions, *sql.Conn, leases), under a global cap far
// below 100 sessions, so connections are constantly taken from one identity's
// pool to open another's. Every `SELECT current_user` must answer the role of
// the identity in the call's ctx; a *sql.Conn used with another identity's
// ctx must refuse rather than answer as its own role.
func TestPGIsolation100Identities(t *testing.T) {
	const (
		identities = 100
		goroutines = 32
		maxSize    = 2
		maxTotal   = 64
	)
	srv := pgtest.Shared(t)
	prefix := fmt.Sprintf("iso%d", os.Getpid())
	t0 := time.Now()
	roles := make([]string, identities)
	ids := make([]tokens.Identity, identities)
	for i := range identities {
		role, pwd := srv.NewRole(t, prefix)
		roles[i] = role
		tok := tokens.Token{Value: pwd, ExpiresOn: time.Now().Add(time.Hour)}
		ids[i] = pgIdentity(role, tokens.SourceFunc(func(context.Context) (tokens.Token, error) { return tok, nil }))
	}
	p := pgTokenPool(t, srv, manager.Config{MaxSize: maxSize, MaxTotal: maxTotal}, roles...)
	t.Logf("roles created in %s", time.Since(t0))
	t0 = time.Now()
	watch := pgWatchSize(p.db)
	seed := rand.Uint64()
	t.Logf("seed %d", seed)

	// A hang, not slowness, fails the calls: ctx ends once no call has
	// finished for pgTimeout. A deadline on the whole test (pgCtx) also
	// counted the 100 role creations and the 1600 calls' throughput, which a
	// loaded 2-core machine under -race took past a minute with every call
	// still moving.
	ctx, cancel := context.WithCancelCause(t.Context())
	defer cancel(nil)
	stalled := fmt.Errorf("no call finished for %s: a pool hangs", pgTimeout)
	watchdog := time.AfterFunc(pgTimeout, func() { cancel(stalled) })
	defer watchdog.Stop()

	var (
		wg                   sync.WaitGroup
		calls, refused       atomic.Int64
		mu                   sync.Mutex
		failures, mismatches []string
	)
	fail := func(list *[]string, format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		*list = append(*list, fmt.Sprintf(format, args...))
	}
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(g)))
			for range pgIsolationOps {
				i := r.IntN(identities)
				as := tokens.WithIdentity(ctx, ids[i])
				check := func(how, who string, err error) {
					calls.Add(1)
					watchdog.Reset(pgTimeout)
					if err != nil && context.Cause(ctx) == stalled {
						err = fmt.Errorf("%w (%w)", err, stalled)
					}
					switch {
					case err != nil:
						fail(&failures, "%s as %s: %v", how, roles[i], err)
					case who != roles[i]:
						fail(&mismatches, "%s as %s answered %s", how, roles[i], who)
					}
				}
				switch r.IntN(4) {
				case 0:
					var who string
					err := p.db.QueryRowContext(as, "SELECT current_user").Scan(&who)
					check("query", who, err)
				case 1:
					tx, err := p.db.BeginTx(as, nil)
					if err != nil {
						check("begin", "", err)
						continue
					}
					var who string
					err = tx.QueryRowContext(as, "SELECT current_user").Scan(&who)
					check("tx", who, err)
					if err := tx.Commit(); err != nil {
						check("commit", "", err)
					}
				case 2:
					l, err := p.db.Manager.Acquire(as, ids[i])
					if err != nil {
						check("acquire", "", err)
						continue
					}
					v, err := pgLeaseScalar(as, l, "SELECT current_user")
					who, _ := v.(string)
					check("lease", who, err)
					l.Release(err)
				default:
					c, err := p.db.Conn(as)
					if err != nil {
						check("conn", "", err)
						continue
					}
					var who string
					err = c.QueryRowContext(as, "SELECT current_user").Scan(&who)
					check("conn", who, err)
					// The same session asked with another identity's ctx.
					j := (i + 1 + r.IntN(identities-1)) % identities
					err = c.QueryRowContext(tokens.WithIdentity(ctx, ids[j]), "SELECT current_user").Scan(&who)
					if err == nil {
						fail(&mismatches, "%s's *sql.Conn answered a call as %s (%s)", roles[i], roles[j], who)
					} else {
						refused.Add(1)
					}
					_ = c.Close()
				}
			}
		}()
	}
	wg.Wait()
	maxSeen := watch.Stop()
	t.Logf("calls took %s", time.Since(t0))

	require.Empty(t, mismatches, "a call ran as another identity")
	require.Empty(t, failures)
	st := p.db.Manager.Stats()
	t.Logf("%d calls, %d cross-identity calls refused; pools %d, opens %d, hits %d, misses %d, closes %v, max open+dialing %d",
		calls.Load(), refused.Load(), st.Pools, st.Total.Opens, st.Total.Hits, st.Total.Misses, st.Total.Closes, maxSeen)
	assert.LessOrEqual(t, maxSeen, maxTotal, "the global cap was exceeded")
	assert.LessOrEqual(t, st.PermitsInUse, maxTotal)
	for _, ps := range st.PerPool {
		assert.LessOrEqual(t, ps.Open, maxSize, "pool %s", ps.Key)
	}
	assert.LessOrEqual(t, st.Total.TokenMints, st.Total.Opens)
	// On the server: the identities' sessions settle to what the pools hold.
	pgEventually(t, 10*time.Second, func() bool {
		return int(srv.QueryInt(t, "SELECT count(*) FROM pg_stat_activity WHERE starts_with(usename, $1)", prefix+"_")) == st.Total.Open
	}, "the server's sessions of the identities differ from the pools' %d", st.Total.Open)
	assert.LessOrEqual(t, srv.QueryInt(t, `SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM pg_stat_activity
		WHERE starts_with(usename, $1) GROUP BY usename) AS per_role`, prefix+"_"), int64(maxSize))
}
