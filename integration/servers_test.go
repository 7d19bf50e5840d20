package integration

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/tds"
	"github.com/idpool/idpool/tokens"
)

// testTimeout bounds each test, so that a hang fails the test rather than
// the package's -timeout.
const testTimeout = 60 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// rig is one server behind the facade, and two identities on it with the
// login each must be served as.
type rig struct {
	db                   *manager.DB
	alice, bob           tokens.Identity
	aliceLogin, bobLogin string
	// whoAmI is the query that answers the session's login.
	whoAmI string
	// driverName is the database/sql driver name sqlx uses for its
	// placeholders ("sqlserver" or "pgx").
	driverName string
	// running reports whether a request of login is executing at the
	// server right now, as the server sees it.
	running func(t *testing.T, login string) bool
	// sleep is a query that runs until its ctx is cancelled.
	sleep string
}

// as is ctx carrying id.
func as(ctx context.Context, id tokens.Identity) context.Context { return tokens.WithIdentity(ctx, id) }

// tokenIdentity is a token identity whose token names login: sim/tds's
// VerifyToken below and the PostgreSQL roles' passwords accept it.
func tokenIdentity(login, token string) tokens.Identity {
	return tokens.New(tokens.KindManagedIdentity, "msi:"+login, tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
		return tokens.Token{Value: token, ExpiresOn: time.Now().Add(time.Hour)}, nil
	}))
}

// tdsTokenPrefix: sim/tds accepts a token "tok:<login>" as <login>.
const tdsTokenPrefix = "tok:"

// startTDS starts sim/tds with token logins and opens the facade on it.
func startTDS(t *testing.T, opts ...manager.FacadeOption) *rig {
	t.Helper()
	srv, err := tds.Start(tds.Options{Database: "appdb", VerifyToken: func(token string) (string, time.Time, error) {
		login, ok := strings.CutPrefix(token, tdsTokenPrefix)
		if !ok {
			return "", time.Time{}, errors.New("not a test token")
		}
		return login, time.Now().Add(time.Hour), nil
	}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	u := url.URL{Scheme: "sqlserver", Host: srv.Addr(), RawQuery: "database=appdb&encrypt=disable&dial+timeout=10"}
	db, err := sqlserver.OpenDB(u.String(), manager.Config{MaxSize: 2}, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return &rig{
		db:    db,
		alice: tokenIdentity("alice", tdsTokenPrefix+"alice"), aliceLogin: "alice",
		bob: tokenIdentity("bob", tdsTokenPrefix+"bob"), bobLogin: "bob",
		whoAmI: "SELECT SUSER_SNAME()", driverName: "sqlserver",
		running: func(_ *testing.T, login string) bool {
			for _, s := range srv.Sessions() {
				if s.Login == login && s.Running {
					return true
				}
			}
			return false
		},
		sleep: "WAITFOR DELAY '00:10:00'",
	}
}

// startPG opens the facade on the package's PostgreSQL server, with two new
// roles as the token identities' logins (the token is the role's password,
// as an Entra token is for Azure Database for PostgreSQL).
func startPG(t *testing.T, srv *pgtest.Server) *rig { return startPGDefault(t, srv, false) }

// startPGDefault is startPG, with alice as the facade's default identity if
// defaultAlice.
func startPGDefault(t *testing.T, srv *pgtest.Server, defaultAlice bool) *rig {
	t.Helper()
	aliceRole, alicePwd := srv.NewRole(t, "alice")
	bobRole, bobPwd := srv.NewRole(t, "bob")
	d, err := postgres.NewDialer(srv.DSN("nobody", "", "postgres"), postgres.WithUser(func(req actors.DialRequest) string {
		role, _ := strings.CutPrefix(req.Key.Discriminator(), "msi:")
		return role
	}))
	require.NoError(t, err)
	alice := tokenIdentity(aliceRole, alicePwd)
	var fopts []manager.FacadeOption
	if defaultAlice {
		fopts = append(fopts, manager.WithDefaultIdentity(alice))
	}
	db, err := manager.OpenDialer(d, d.ServerKey(), manager.Config{MaxSize: 2}, fopts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return &rig{
		db:    db,
		alice: alice, aliceLogin: aliceRole,
		bob: tokenIdentity(bobRole, bobPwd), bobLogin: bobRole,
		whoAmI: "SELECT current_user::text", driverName: "pgx",
		running: func(t *testing.T, login string) bool {
			return srv.QueryInt(t, `SELECT count(*) FROM pg_stat_activity
				WHERE usename = $1 AND state = 'active' AND query LIKE '%pg_sleep%'`, login) > 0
		},
		sleep: "SELECT pg_sleep(600)",
	}
}

// servers runs f against sim/tds and PostgreSQL, as subtests.
func servers(t *testing.T, f func(t *testing.T, r *rig)) {
	t.Run("tds", func(t *testing.T) { f(t, startTDS(t)) })
	t.Run("postgres", func(t *testing.T) { f(t, startPG(t, pgtest.Shared(t))) })
}
