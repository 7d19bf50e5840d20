package e2e

import (
	"context"
	"crypto/rand"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/sim/entra"
	"github.com/idpool/idpool/sim/tds"
	"github.com/idpool/idpool/tokens"
)

// sqlAudience is the audience sim/tds demands of FEDAUTH tokens, as Azure
// SQL does: the tokens package's default scope
// (https://database.windows.net/.default) is issued by sim/entra with exactly
// this aud claim.
const sqlAudience = "https://database.windows.net/"

// spTenant is the tenant of the tests' service principals; managed
// identities live in sim/entra's default tenant.
const spTenant = "5e1ec7ed-0000-4000-8000-00000000e2e0"

// mssqlEnv is one end-to-end rig: a local Entra ID issuing real JWTs to the
// real azidentity credentials, and a simulated SQL Server that verifies each
// FEDAUTH token against it and records every login.
type mssqlEnv struct {
	entra *entra.Server
	tds   *tds.Server
	// dsn has no credentials: token identities log in with the pool's token.
	dsn string
	// uniq prefixes client ids: MSAL's managed-identity token cache is
	// process-wide, so every test needs identities of its own.
	uniq string

	mu     sync.Mutex
	seen   map[string]struct{} // every token value presented at login
	logins []loginRecord       // every successful token login, in order
}

// loginRecord is one successful token login as the server saw it.
type loginRecord struct {
	Login      string
	Generation int       // sim_gen: how often the identity was rotated
	TokenID    string    // jti: tells apart tokens of one identity
	ExpiresOn  time.Time // exp
	At         time.Time
}

// simHandshakeTimeout is how long sim/tds lets a client take over its TLS,
// PRELOGIN and LOGIN7. Its default, 10 s, bounds a stalled client; these
// tests' clients are idpool's own dials, and a go-mssqldb login among a
// hundred at once on a loaded 2-core -race machine passed 10 s: the server
// closed the connection and the dial failed with EOF (a call lost in
// TestMSSQLPoolRetirementRacesTDS). A minute is past every test's ctx.
const simHandshakeTimeout = time.Minute

// startMSSQL starts sim/entra and sim/tds for t, points
// ManagedIdentityCredential at the former (IDENTITY_ENDPOINT/HEADER, so t
// must not be parallel) and closes both after the test.
func startMSSQL(t *testing.T) *mssqlEnv {
	t.Helper()
	awaitDeadLetterThrottle(t)
	es, err := entra.New(entra.Config{})
	require.NoError(t, err)
	t.Cleanup(es.Close)
	es.SetManagedIdentityEnv(t)
	env := &mssqlEnv{entra: es, uniq: strings.ToLower(rand.Text()[:10]), seen: map[string]struct{}{}}
	srv, err := tds.Start(tds.Options{VerifyToken: env.verify, Database: "appdb", HandshakeTimeout: simHandshakeTimeout})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	env.tds = srv
	u := url.URL{Scheme: "sqlserver", Host: srv.Addr(), RawQuery: "database=appdb&encrypt=disable&dial+timeout=10"}
	env.dsn = u.String()
	return env
}

// awaitDeadLetterThrottle makes the test, after all its other cleanups,
// wait until protoactor's dead-letter throttle goroutine has ended. A
// message sent to a pool actor that has just stopped (a timer's Tick racing
// the pool's retirement, typically) starts that goroutine, which lives one
// second; goleak in TestMain would report it if the package's last test
// ended within that second. Register it before anything else.
func awaitDeadLetterThrottle(t *testing.T) {
	t.Cleanup(func() {
		eventually(t, 10*time.Second, func() bool { return !goroutineWith("actor.NewThrottle") },
			"protoactor's dead-letter throttle goroutine did not end")
	})
}

// goroutineWith reports whether any goroutine's stack mentions fn.
func goroutineWith(fn string) bool {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Contains(string(buf[:n]), fn)
		}
		buf = make([]byte, 2*len(buf))
	}
}

// verify is sim/tds's VerifyToken: the token must be one sim/entra signed for
// Azure SQL and not yet expired. The login name (SUSER_SNAME) is the user's
// UPN, or appid@tenant for apps and managed identities, as Azure SQL names
// an Entra application principal by client id and tenant.
func (e *mssqlEnv) verify(token string) (string, time.Time, error) {
	c, err := e.entra.Verify(token, sqlAudience)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return "", time.Time{}, fmt.Errorf("%w: %w", tds.ErrTokenExpired, err)
		}
		return "", time.Time{}, err
	}
	login := loginOf(c)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seen[token] = struct{}{}
	e.logins = append(e.logins, loginRecord{Login: login, Generation: c.Generation, TokenID: c.ID,
		ExpiresOn: c.ExpiresAt.Time, At: time.Now()})
	return login, c.ExpiresAt.Time, nil
}

func loginOf(c entra.Claims) string {
	if c.UPN != "" {
		return c.UPN
	}
	return c.AppID + "@" + c.TenantID
}

// loginsOf returns the token logins of login, in order.
func (e *mssqlEnv) loginsOf(login string) []loginRecord {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []loginRecord
	for _, r := range e.logins {
		if r.Login == login {
			out = append(out, r)
		}
	}
	return out
}

// tokensSeen returns every token value presented at a login so far.
func (e *mssqlEnv) tokensSeen() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]string, 0, len(e.seen))
	for v := range e.seen {
		out = append(out, v)
	}
	return out
}

// testIdentity is an identity and what SUSER_SNAME() must answer for it.
type testIdentity struct {
	ID    tokens.Identity
	Login string
	// Name is its name at sim/entra (for Issued and Rotate).
	Name string
}

// managedIdentity registers a user-assigned managed identity and builds it
// over azidentity's ManagedIdentityCredential (App Service source).
func (e *mssqlEnv) managedIdentity(t *testing.T, name string, opts ...tokens.CredentialOption) testIdentity {
	t.Helper()
	clientID := e.uniq + "-mi-" + name
	e.entra.RegisterManagedIdentity(clientID, "oid-"+clientID)
	id, err := tokens.UserAssignedIdentity(azidentity.ClientID(clientID), e.entra.ManagedIdentityOptions(nil), opts...)
	require.NoError(t, err)
	return testIdentity{ID: id, Login: clientID + "@" + e.entra.Tenant(), Name: clientID}
}

// servicePrincipal registers an app with a client secret and builds it over
// azidentity's ClientSecretCredential.
func (e *mssqlEnv) servicePrincipal(t *testing.T, name string, opts ...tokens.CredentialOption) testIdentity {
	t.Helper()
	clientID := e.uniq + "-sp-" + name
	secret := "secret-" + rand.Text()
	e.entra.RegisterApp(spTenant, clientID, secret, "oid-"+clientID)
	id, err := tokens.ClientSecretIdentity(spTenant, clientID, secret, e.entra.SecretOptions(), opts...)
	require.NoError(t, err)
	return testIdentity{ID: id, Login: clientID + "@" + spTenant, Name: clientID}
}

// openDB opens the *sql.DB facade on the simulated server.
func (e *mssqlEnv) openDB(t *testing.T, cfg manager.Config) *manager.DB {
	t.Helper()
	db, err := sqlserver.OpenDB(e.dsn, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return db
}

// openManager is a Manager with the sqlserver dialer wrapped by wrap (if
// not nil), for tests that use the Lease API or need a custom dialer.
func (e *mssqlEnv) openManager(t *testing.T, cfg manager.Config, wrap func(manager.Dialer) manager.Dialer) *manager.DB {
	t.Helper()
	d, err := sqlserver.NewDialer(e.dsn)
	require.NoError(t, err)
	var dialer manager.Dialer = d
	if wrap != nil {
		dialer = wrap(d)
	}
	db, err := manager.OpenDialer(dialer, d.ServerKey(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return db
}

// poolStats returns the Stats of id's pool in db and whether it is live.
// It does not fail the test, so conditions of eventually may call it.
func (e *mssqlEnv) poolStats(db *manager.DB, id testIdentity) (manager.PoolStats, bool) {
	server, err := sqlserver.ServerKey(e.dsn)
	if err != nil {
		return manager.PoolStats{}, false
	}
	disc, err := id.ID.Discriminator(context.Background())
	if err != nil {
		return manager.PoolStats{}, false
	}
	key := tokens.NewKey(server, disc).Redacted()
	for _, p := range db.Manager.Stats().PerPool {
		if p.Key == key {
			return p, true
		}
	}
	return manager.PoolStats{}, false
}

// settledStats waits until every dial the pools started has reported back
// (a dial started for a waiter that another connection served finishes after
// its caller is gone) so that Opens equals the logins the server counted,
// and returns the Stats then.
func settledStats(t *testing.T, m *manager.Manager, logins func() int) manager.Stats {
	t.Helper()
	var st manager.Stats
	eventually(t, 10*time.Second, func() bool {
		st = m.Stats()
		return st.Total.Dialing == 0 && st.Total.Opens == uint64(logins())
	}, "the pools' opens never matched the server's logins")
	return st
}

// sessionCount is the number of sessions logged in at the server now.
func (e *mssqlEnv) sessionCount() int { return len(e.tds.Sessions()) }

// sessionBySPID returns the server's view of one session.
func (e *mssqlEnv) sessionBySPID(spid int) (tds.SessionInfo, bool) {
	for _, s := range e.tds.Sessions() {
		if s.SPID == spid {
			return s, true
		}
	}
	return tds.SessionInfo{}, false
}

// testCtx bounds a whole test.
func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// leaseQuery runs q on a leased connection through its driver interfaces,
// as database/sql would (the driver may answer driver.ErrSkip to the direct
// call; then the statement is prepared), and returns the first column of
// the first row.
func leaseQuery(ctx context.Context, l *manager.Lease, q string, args ...any) (any, error) {
	named := make([]driver.NamedValue, len(args))
	for i, a := range args {
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	rows, err := l.Conn().QueryContext(ctx, q, named)
	if errors.Is(err, driver.ErrSkip) {
		var stmt driver.Stmt
		stmt, err = l.Conn().PrepareContext(ctx, q)
		if err != nil {
			return nil, err
		}
		defer stmt.Close()
		rows, err = stmt.(driver.StmtQueryContext).QueryContext(ctx, named)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	dest := make([]driver.Value, len(rows.Columns()))
	if err := rows.Next(dest); err != nil {
		return nil, err
	}
	first := dest[0]
	for {
		switch err := rows.Next(dest); err {
		case nil:
		case io.EOF:
			return first, nil
		default:
			return nil, err
		}
	}
}

// leaseExec runs a statement on a leased connection (prepared if the driver
// skips the direct call).
func leaseExec(ctx context.Context, l *manager.Lease, q string) error {
	_, err := l.Conn().ExecContext(ctx, q, nil)
	if errors.Is(err, driver.ErrSkip) {
		var stmt driver.Stmt
		stmt, err = l.Conn().PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		defer stmt.Close()
		_, err = stmt.(driver.StmtExecContext).ExecContext(ctx, nil)
	}
	return err
}

// acquire takes a lease for id and makes sure it goes back even if the test
// fails before it releases it (Release is idempotent).
func acquire(t *testing.T, ctx context.Context, m *manager.Manager, id tokens.Identity) *manager.Lease {
	t.Helper()
	l, err := m.Acquire(ctx, id)
	require.NoError(t, err)
	t.Cleanup(func() { l.Release(nil) })
	return l
}

// eventually waits for cond, failing the test after d.
func eventually(t *testing.T, d time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	require.Eventuallyf(t, cond, d, 5*time.Millisecond, msg, args...)
}
