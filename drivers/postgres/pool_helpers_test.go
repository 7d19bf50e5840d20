package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// pgxEnv is a Pool over a pgtest server with two token identities, alice
// and bob, each logging in as its own role with its token as the password,
// as Entra principals do on Azure Database for PostgreSQL. The database
// belongs to alice.
type pgxEnv struct {
	srv        *pgtest.Server
	pool       *postgres.Pool
	alice, bob tokens.Identity
	aliceRole  string
	bobRole    string
	dsn        string
}

// newPgxEnv opens the Pool with cfg (Server and Dialer are filled in) and
// opts after WithUser(roleOf), and closes it at cleanup.
func newPgxEnv(t *testing.T, cfg manager.Config, opts ...postgres.Option) *pgxEnv {
	t.Helper()
	e := newPgxEnvNoPool(t)
	pool, err := postgres.OpenPool(e.dsn, cfg, append([]postgres.Option{postgres.WithUser(roleOf)}, opts...)...)
	require.NoError(t, err)
	e.pool = pool
	t.Cleanup(func() { require.NoError(t, pool.Close()) })
	return e
}

// newPgxEnvNoPool is newPgxEnv's server, roles and DSN, with no Pool yet.
func newPgxEnvNoPool(t *testing.T) *pgxEnv {
	t.Helper()
	srv := pgtest.Shared(t)
	e := &pgxEnv{srv: srv}
	var aliceTok, bobTok string
	e.aliceRole, aliceTok = srv.NewRole(t, "palice")
	e.bobRole, bobTok = srv.NewRole(t, "pbob")
	srv.CreateDatabase(t, e.aliceRole, e.aliceRole)
	e.alice = tokenIdentity(e.aliceRole, aliceTok)
	e.bob = tokenIdentity(e.bobRole, bobTok)
	e.dsn = srv.DSN("nobody", "", e.aliceRole)
	return e
}

// tokenIdentity is a managed identity named after role whose token is
// role's password.
func tokenIdentity(role, token string) tokens.Identity {
	return tokens.New(tokens.KindManagedIdentity, "msi:"+role, tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		return tokens.Token{Value: token, ExpiresOn: time.Now().Add(time.Hour)}, nil
	}))
}

// roleOf maps a token identity to its login role, as an Entra principal's
// name would be on Azure.
func roleOf(req manager.DialRequest) string {
	role, _ := strings.CutPrefix(req.Key.Discriminator(), "msi:")
	return role
}

// as returns the test's ctx carrying id.
func as(t *testing.T, id tokens.Identity) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return tokens.WithIdentity(ctx, id)
}

// backendPID is the server process of the lease's session.
func backendPID(t *testing.T, ctx context.Context, l *postgres.Lease) int32 {
	t.Helper()
	var pid int32
	require.NoError(t, l.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid))
	return pid
}

// scalar runs a one-value query on the lease.
func scalar[T any](t *testing.T, ctx context.Context, l *postgres.Lease, sql string, args ...any) T {
	t.Helper()
	var v T
	require.NoError(t, l.QueryRow(ctx, sql, args...).Scan(&v))
	return v
}

// busy is the number of leases out across the pool's identities.
func (e *pgxEnv) busy() int { return e.pool.Manager().Stats().Total.Busy }

// createItems makes alice's table of items.
func (e *pgxEnv) createItems(t *testing.T) {
	t.Helper()
	_, err := e.pool.Exec(as(t, e.alice), "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)")
	require.NoError(t, err)
}

// countItems counts alice's items.
func (e *pgxEnv) countItems(t *testing.T) int64 {
	t.Helper()
	var n int64
	require.NoError(t, e.pool.QueryRow(as(t, e.alice), "SELECT count(*) FROM items").Scan(&n))
	return n
}
