package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/tokens"
)

// connector is the smallest database/sql bridge over a Dialer: each new
// database/sql connection is one Dial for a fixed identity.
type connector struct {
	d   *Dialer
	req actors.DialRequest
}

func (c connector) Connect(ctx context.Context) (driver.Conn, error) { return c.d.Dial(ctx, c.req) }
func (c connector) Driver() driver.Driver                            { return stdlib.GetDefaultDriver() }

func TestWorksThroughDatabaseSQL(t *testing.T) {
	srv := pgtest.Shared(t)
	role, _ := srv.NewRole(t, "dbsql")
	tok := sentinel("dbsql")
	srv.SetPassword(t, role, tok)
	srv.CreateDatabase(t, role, role)
	d, err := NewDialer(srv.DSN(role, "", role))
	require.NoError(t, err)

	db := sql.OpenDB(connector{d: d, req: tokenRequest(d.ServerKey(), "msi:system", &noMint{}, tok)})
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	require.NoError(t, db.PingContext(ctx))
	_, err = db.ExecContext(ctx, "CREATE TABLE items (id int PRIMARY KEY, name text)")
	require.NoError(t, err)

	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, "INSERT INTO items VALUES ($1, $2)", 1, "kept")
	require.NoError(t, err)
	require.NoError(t, tx.Commit())

	tx, err = db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, "INSERT INTO items VALUES ($1, $2)", 2, "rolled back")
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())

	stmt, err := db.PrepareContext(ctx, "SELECT name FROM items WHERE id = $1")
	require.NoError(t, err)
	defer stmt.Close()
	var name string
	require.NoError(t, stmt.QueryRowContext(ctx, 1).Scan(&name))
	assert.Equal(t, "kept", name)
	assert.ErrorIs(t, stmt.QueryRowContext(ctx, 2).Scan(&name), sql.ErrNoRows)

	var who string
	require.NoError(t, db.QueryRowContext(ctx, "SELECT current_user").Scan(&who))
	assert.Equal(t, role, who)
}

func TestResetSessionRefusesAConnInATransaction(t *testing.T) {
	srv := pgtest.Shared(t)
	role, pwd := srv.NewRole(t, "reset")
	d, err := NewDialer(srv.DSN(role, pwd, "postgres"))
	require.NoError(t, err)
	c, err := dial(t, d, sqlLoginRequest(d.ServerKey()))
	require.NoError(t, err)
	ctx := context.Background()

	require.NoError(t, c.(driver.SessionResetter).ResetSession(ctx))
	tx, err := c.(driver.ConnBeginTx).BeginTx(ctx, driver.TxOptions{})
	require.NoError(t, err)
	// The pool must roll back before release: pgx discards a conn left in a
	// transaction rather than reset it.
	assert.ErrorIs(t, c.(driver.SessionResetter).ResetSession(ctx), driver.ErrBadConn)
	require.NoError(t, tx.Rollback())
	assert.NoError(t, c.(driver.SessionResetter).ResetSession(ctx))
}

func TestKilledSessionShowsAsBadConn(t *testing.T) {
	srv := pgtest.Shared(t)
	role, pwd := srv.NewRole(t, "killed")
	d, err := NewDialer(srv.DSN(role, pwd, "postgres"))
	require.NoError(t, err)
	victim, err := dial(t, d, sqlLoginRequest(d.ServerKey()))
	require.NoError(t, err)
	bystander, err := dial(t, d, sqlLoginRequest(d.ServerKey()))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Kill both, then reconnect the bystander's role: only dials after the
	// kill get through.
	require.Equal(t, 2, srv.Terminate(t, role))
	assert.ErrorIs(t, victim.(driver.Pinger).Ping(ctx), driver.ErrBadConn)
	assert.True(t, IsClosed(victim), "a failed Ping closes the conn")

	// The first query on a killed session fails with the server's error, not
	// ErrBadConn, and pgx closes the conn; later calls say ErrBadConn.
	assert.False(t, IsClosed(bystander), "pgx cannot know before it reads")
	_, err = bystander.(driver.ExecerContext).ExecContext(ctx, "SELECT 1", nil)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	assert.Equal(t, "57P01", pgErr.Code, "admin_shutdown")
	assert.NotErrorIs(t, err, driver.ErrBadConn)
	assert.True(t, IsClosed(bystander))
	_, err = bystander.(driver.ExecerContext).ExecContext(ctx, "SELECT 1", nil)
	assert.ErrorIs(t, err, driver.ErrBadConn)
	assert.ErrorIs(t, bystander.(driver.SessionResetter).ResetSession(ctx), driver.ErrBadConn)
	fresh, err := dial(t, d, sqlLoginRequest(d.ServerKey()))
	require.NoError(t, err)
	assert.NoError(t, fresh.(driver.Pinger).Ping(ctx))
}

func TestServerRestartBreaksOldConnsAndNewDialsWork(t *testing.T) {
	srv := pgtest.Start(t)
	const pwd = "outage-Secret-77"
	srv.CreateRole(t, "outage", pwd)
	d, err := NewDialer(srv.DSN("outage", pwd, "postgres"))
	require.NoError(t, err)
	old, err := dial(t, d, sqlLoginRequest(d.ServerKey()))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	srv.Stop(t)
	_, err = dial(t, d, sqlLoginRequest(d.ServerKey()))
	require.Error(t, err, "no server, no dial")
	assertNoLeak(t, err, pwd)
	srv.StartAgain(t)

	assert.ErrorIs(t, old.(driver.Pinger).Ping(ctx), driver.ErrBadConn)
	c, err := dial(t, d, sqlLoginRequest(d.ServerKey()))
	require.NoError(t, err)
	assert.NoError(t, c.(driver.Pinger).Ping(ctx))
	assert.Equal(t, 2, srv.Logins(t, "outage"))
}

// silentServer accepts TCP connections on loopback and never answers.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return l.Addr().String()
}

func TestDialHonoursTheContext(t *testing.T) {
	addr := silentServer(t)
	d, err := NewDialer("postgres://u:secretpw@" + addr + "/db?sslmode=disable")
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = d.Dial(ctx, sqlLoginRequest(d.ServerKey()))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assertNoLeak(t, err, "secretpw")

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	_, err = d.Dial(ctx, actors.DialRequest{Identity: tokens.SQLLogin()})
	require.ErrorIs(t, err, context.Canceled)
}

func TestIsClosed(t *testing.T) {
	srv := pgtest.Shared(t)
	role, pwd := srv.NewRole(t, "closed")
	d, err := NewDialer(srv.DSN(role, pwd, "postgres"))
	require.NoError(t, err)
	c, err := dial(t, d, sqlLoginRequest(d.ServerKey()))
	require.NoError(t, err)
	assert.False(t, IsClosed(c))
	require.NoError(t, c.Close())
	assert.True(t, IsClosed(c))
	assert.False(t, IsClosed(nil), "not a pgx conn")
}
