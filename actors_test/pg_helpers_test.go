package e2e

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// Helpers for the PostgreSQL tests. Every name starts with pg: the package
// is shared with the SQL Server tests.

// pgTimeout bounds each PostgreSQL test as a whole, so that a pool that hangs
// fails the test instead of the package's -timeout.
const pgTimeout = 60 * time.Second

// pgCtx is the test's ctx, bounded by pgTimeout.
func pgCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), pgTimeout)
	t.Cleanup(cancel)
	return ctx
}

// pgEventually polls cond on the test's own goroutine (cond may call
// t.Fatal, as the pgtest helpers do) until it holds or within passes. An arg
// of type func() any is called when the message is printed, so it shows the
// state at the failure.
func pgEventually(t *testing.T, within time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			for i, a := range args {
				if f, ok := a.(func() any); ok {
					args[i] = f()
				}
			}
			t.Fatalf("not within %s: "+msg, append([]any{within}, args...)...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pgPool is one *sql.DB facade (with its Manager) over a pgtest server.
type pgPool struct {
	srv    *pgtest.Server
	db     *manager.DB
	server string // the pools' server key
	// role is the login of a SQL-login pool; empty for token pools.
	role string
	// roles are the server roles the pool logs in as, checked at cleanup.
	roles []string
}

// pgSQLLoginPool opens a facade whose connections log in as a new role with
// its password (a SQL login: one pool for the server). Calls without an
// identity in their ctx use the SQL login. At cleanup it closes the facade
// and checks that every physical open was one login on the server and that
// no session of the role outlives the pool.
func pgSQLLoginPool(t *testing.T, srv *pgtest.Server, prefix string, cfg manager.Config) *pgPool {
	t.Helper()
	p := pgSQLLoginPoolNoCleanup(t, srv, prefix, cfg)
	t.Cleanup(func() { p.close(t) })
	return p
}

// pgSQLLoginPoolNoCleanup is pgSQLLoginPool for a test that closes the pool
// itself.
func pgSQLLoginPoolNoCleanup(t *testing.T, srv *pgtest.Server, prefix string, cfg manager.Config) *pgPool {
	t.Helper()
	role, pwd := srv.NewRole(t, prefix)
	d, err := postgres.NewDialer(srv.DSN(role, pwd, "postgres"))
	require.NoError(t, err)
	db, err := manager.OpenDialer(d, d.ServerKey(), cfg, manager.WithDefaultIdentity(tokens.SQLLogin()))
	require.NoError(t, err)
	return &pgPool{srv: srv, db: db, server: d.ServerKey(), role: role, roles: []string{role}}
}

// pgTokenPool opens a facade for token identities: an identity whose
// discriminator is "msi:<role>" logs in as <role> with its token as the
// password, as Azure Database for PostgreSQL does with Entra tokens. roles
// are checked at cleanup as in pgSQLLoginPool.
func pgTokenPool(t *testing.T, srv *pgtest.Server, cfg manager.Config, roles ...string) *pgPool {
	t.Helper()
	d, err := postgres.NewDialer(srv.DSN("nobody", "", "postgres"), postgres.WithUser(pgRoleOf))
	require.NoError(t, err)
	db, err := manager.OpenDialer(d, d.ServerKey(), cfg)
	require.NoError(t, err)
	p := &pgPool{srv: srv, db: db, server: d.ServerKey(), roles: roles}
	t.Cleanup(func() { p.close(t) })
	return p
}

// pgRoleOf maps a token identity to its role, as the Entra principal name
// would be for Azure.
func pgRoleOf(req actors.DialRequest) string {
	role, _ := strings.CutPrefix(req.Key.Discriminator(), "msi:")
	return role
}

// pgIdentity is the token identity of role, minting from src.
func pgIdentity(role string, src tokens.Source) tokens.Identity {
	return tokens.New(tokens.KindManagedIdentity, "msi:"+role, src)
}

func (p *pgPool) close(t *testing.T) {
	t.Helper()
	// A dial still in flight (one that outlived its caller's acquire, say)
	// logs in at the server before the pool counts its open: wait for the
	// pools to settle, so the snapshot and the server agree.
	pgEventually(t, 20*time.Second, func() bool {
		s := p.stats()
		return s.Dialing == 0 && s.AwaitingPermit == 0 && s.Minting == 0
	}, "dials still in flight before Close")
	st := p.stats()
	pgAccounted(t, st)
	opens := st.Opens
	require.NoError(t, p.db.Close())
	pgEventually(t, 20*time.Second, func() bool {
		for _, r := range p.roles {
			if p.srv.Backends(t, r) != 0 {
				return false
			}
		}
		return true
	}, "sessions of %v still on the server after Close", p.roles)
	logins := pgLoginCounts(t, p.srv)
	total := 0
	for _, r := range p.roles {
		total += logins[r]
	}
	require.Equal(t, int(opens), total, "server-side logins of the pool's roles vs Stats.Opens")
}

// pgAccounted checks that every connection a pool opened is either still
// open or was closed for a counted reason.
func pgAccounted(t *testing.T, st manager.PoolStats) {
	t.Helper()
	var closed uint64
	for _, n := range st.Closes {
		closed += n
	}
	require.EqualValues(t, st.Opens, closed+uint64(st.Open), "opens vs closes %v + open %d", st.Closes, st.Open)
}

// stats returns the manager's totals (the pool of a one-identity test).
func (p *pgPool) stats() manager.PoolStats { return p.db.Manager.Stats().Total }

// poolStats returns the live pool of id.
func (p *pgPool) poolStats(t *testing.T, id tokens.Identity) manager.PoolStats {
	t.Helper()
	disc, err := id.Discriminator(context.Background())
	require.NoError(t, err)
	want := tokens.NewKey(p.server, disc).Redacted()
	for _, ps := range p.db.Manager.Stats().PerPool {
		if ps.Key == want {
			return ps
		}
	}
	t.Fatalf("no live pool for %v", id)
	return manager.PoolStats{}
}

// pgQueryer is what *sql.DB, *sql.Conn and *sql.Tx have in common.
type pgQueryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// pgPID returns the server process of the session q runs on: a changed pid
// means another physical connection.
func pgPID(ctx context.Context, q pgQueryer) (int, error) {
	var pid int
	err := q.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid)
	return pid, err
}

func pgMustPID(t *testing.T, ctx context.Context, q pgQueryer) int {
	t.Helper()
	pid, err := pgPID(ctx, q)
	require.NoError(t, err)
	return pid
}

// pgAlive reports whether a backend with pid is still on the server.
func pgAlive(t *testing.T, srv *pgtest.Server, pid int) bool {
	t.Helper()
	return srv.QueryInt(t, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid) > 0
}

// pgActive counts role's sessions running a statement that contains text.
func pgActive(t *testing.T, srv *pgtest.Server, role, text string) int {
	t.Helper()
	return int(srv.QueryInt(t, `SELECT count(*) FROM pg_stat_activity
		WHERE usename = $1 AND state = 'active' AND strpos(query, $2) > 0 AND pid <> pg_backend_pid()`, role, text))
}

var pgLoginLine = regexp.MustCompile(`connection authorized: user=(\S+) database=`)

// pgLoginCounts counts the successful logins per role in the server log,
// reading it once (pgtest.Logins reads it per role).
func pgLoginCounts(t *testing.T, srv *pgtest.Server) map[string]int {
	t.Helper()
	b, err := os.ReadFile(srv.LogPath())
	require.NoError(t, err)
	counts := make(map[string]int)
	for _, m := range pgLoginLine.FindAllSubmatch(b, -1) {
		counts[string(m[1])]++
	}
	return counts
}

// pgRandomToken makes a token-like secret about as long as an Entra access
// token, distinct per call.
func pgRandomToken(tag string) string {
	b := make([]byte, 600)
	_, _ = rand.Read(b)
	return "eyJ" + tag + "." + hex.EncodeToString(b)
}

// pgEndpoint plays one identity's token endpoint. Issue makes a new token the
// role's password (ALTER ROLE) and hands it out from then on, with an expiry
// read from clock; Token counts its calls (mints).
type pgEndpoint struct {
	role  string
	clock actors.Clock
	mints atomic.Int64

	mu     sync.Mutex
	issued int
	cur    tokens.Token
}

func newPGEndpoint(role string, clock actors.Clock) *pgEndpoint {
	return &pgEndpoint{role: role, clock: clock}
}

// Token returns the current token.
func (e *pgEndpoint) Token(context.Context) (tokens.Token, error) {
	e.mints.Add(1)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cur.IsZero() {
		return tokens.Token{}, fmt.Errorf("endpoint of %s: no token issued yet", e.role)
	}
	return e.cur, nil
}

// Issue rotates the identity's token: the new one becomes the role's
// password first (a token works once issued), then the one handed out.
func (e *pgEndpoint) Issue(t *testing.T, srv *pgtest.Server, lifetime time.Duration) tokens.Token {
	t.Helper()
	e.mu.Lock()
	e.issued++
	n := e.issued
	e.mu.Unlock()
	tok := tokens.Token{Value: pgRandomToken(fmt.Sprint(n)), ExpiresOn: e.clock.Now().Add(lifetime)}
	srv.SetPassword(t, e.role, tok.Value)
	e.mu.Lock()
	e.cur = tok
	e.mu.Unlock()
	return tok
}

// Extend keeps the current token and moves its expiry, as an endpoint that
// re-issues the same token would report it.
func (e *pgEndpoint) Extend(lifetime time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cur.ExpiresOn = e.clock.Now().Add(lifetime)
}

// pgSkewClock is the real clock moved forward by an offset the test sets,
// for expiry tests that cannot wait an hour. Its timers run in real time, so
// a jump does not fire them: what happens after a jump comes from checkout,
// not from the pool's timers.
type pgSkewClock struct{ off atomic.Int64 }

func (c *pgSkewClock) Now() time.Time { return time.Now().Add(time.Duration(c.off.Load())) }

func (c *pgSkewClock) AfterFunc(d time.Duration, f func()) actors.Timer {
	return time.AfterFunc(d, f)
}

func (c *pgSkewClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// pgCheckout checks out n connections at once through *sql.Conn, so the pool
// must hand out n distinct sessions (every idle one first).
func pgCheckout(t *testing.T, ctx context.Context, db *manager.DB, n int) []*sql.Conn {
	t.Helper()
	conns := make([]*sql.Conn, n)
	for i := range conns {
		c, err := db.Conn(ctx)
		require.NoError(t, err)
		conns[i] = c
	}
	return conns
}

// pgHoldConns is pgCheckout, returning the sessions' pids too.
func pgHoldConns(t *testing.T, ctx context.Context, db *manager.DB, n int) ([]*sql.Conn, []int) {
	t.Helper()
	conns := pgCheckout(t, ctx, db, n)
	pids := make([]int, n)
	for i, c := range conns {
		pids[i] = pgMustPID(t, ctx, c)
	}
	return conns, pids
}

func pgCloseAll(t *testing.T, conns []*sql.Conn) {
	t.Helper()
	for _, c := range conns {
		require.NoError(t, c.Close())
	}
}
