package e2e

import (
	"context"
	"database/sql/driver"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/assert"

	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// serverSyncedDialer makes a connection's Close return only once the
// server has dropped its session. go-mssqldb's Close just closes the socket,
// and the server notices a moment later; the pool hands the connection's
// permit back when Close returns, so without this a login may reach the
// server while it still counts the old session (a real server lags the same
// way: MaxTotal is a client-side budget, best set a little below a hard
// server limit). With it, the server's session count is exactly what the
// pool believes, and SetMaxSessions checks the pool's cap exactly.
type serverSyncedDialer struct {
	inner manager.Dialer
	env   *mssqlEnv
}

func (d serverSyncedDialer) Dial(ctx context.Context, req manager.DialRequest) (driver.Conn, error) {
	c, err := d.inner.Dial(ctx, req)
	if err != nil {
		return nil, err
	}
	mc := c.(*mssql.Conn)
	spid, err := rawQueryInt(ctx, mc, "SELECT @@SPID")
	if err != nil {
		_ = mc.Close()
		return nil, err
	}
	return &serverSyncedConn{Conn: mc, spid: int(spid), env: d.env}, nil
}

// serverSyncedConn is a go-mssqldb connection (every method and optional
// interface promoted) whose Close waits for the server.
type serverSyncedConn struct {
	*mssql.Conn
	spid int
	env  *mssqlEnv
}

func (c *serverSyncedConn) Close() error {
	err := c.Conn.Close()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if _, open := c.env.sessionBySPID(c.spid); !open {
			break
		}
	}
	return err
}

// rawQueryInt runs q on a driver connection and returns the first column
// of its one row as an int64.
func rawQueryInt(ctx context.Context, c driver.ConnPrepareContext, q string) (int64, error) {
	stmt, err := c.PrepareContext(ctx, q)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	rows, err := stmt.(driver.StmtQueryContext).QueryContext(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	dest := make([]driver.Value, len(rows.Columns()))
	if err := rows.Next(dest); err != nil {
		return 0, err
	}
	v, ok := dest[0].(int64)
	if !ok {
		return 0, fmt.Errorf("%s: got %T", q, dest[0])
	}
	return v, nil
}

// TestMSSQLMaxTotalAcrossIdentities: 30 identities share a server that
// admits 6 sessions (SetMaxSessions: a login beyond it fails with 17809).
// With MaxTotal 6, pools take connections from each other (stealing the
// oldest idle one) instead of logging in beyond the cap: zero failed logins
// proves the cap held at the server, and every identity is served.
func TestMSSQLMaxTotalAcrossIdentities(t *testing.T) {
	const (
		maxTotal   = 6
		nIDs       = 30
		goroutines = 24
		perG       = 30
	)
	env := startMSSQL(t)
	env.tds.SetMaxSessions(maxTotal)
	ids := make([]testIdentity, nIDs)
	for i := range ids {
		if i%2 == 0 {
			ids[i] = env.managedIdentity(t, fmt.Sprint(i))
		} else {
			ids[i] = env.servicePrincipal(t, fmt.Sprint(i))
		}
	}
	db := env.openManager(t, manager.Config{MaxSize: 3, MaxTotal: maxTotal},
		func(d manager.Dialer) manager.Dialer { return serverSyncedDialer{inner: d, env: env} })
	ctx := testCtx(t, 90*time.Second)

	stop := make(chan struct{})
	var maxPermits, maxSessions atomic.Int64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(3 * time.Millisecond):
			}
			if p := int64(db.Manager.Stats().PermitsInUse); p > maxPermits.Load() {
				maxPermits.Store(p)
			}
			if s := int64(env.sessionCount()); s > maxSessions.Load() {
				maxSessions.Store(s)
			}
		}
	}()

	served := make([]atomic.Int64, nIDs)
	var mismatches atomic.Int64
	var first firstErr
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 8))
			for range perG {
				i := rng.IntN(nIDs)
				var login string
				err := db.QueryRowContext(tokens.WithIdentity(ctx, ids[i].ID), "SELECT SUSER_SNAME()").Scan(&login)
				if err != nil {
					first.keep(err)
					continue
				}
				if login != ids[i].Login {
					mismatches.Add(1)
				}
				served[i].Add(1)
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled

	if err := first.err(); err != nil {
		t.Fatalf("a call failed: %v", err)
	}
	assert.Zero(t, mismatches.Load())
	assert.Zero(t, env.tds.FailedLogins(), "a login beyond the server's session limit failed: the cap did not hold")
	for i := range served {
		assert.Positive(t, served[i].Load(), "identity %d starved", i)
	}
	st := settledStats(t, db.Manager, env.tds.TotalLogins)
	assert.LessOrEqual(t, maxPermits.Load(), int64(maxTotal))
	assert.LessOrEqual(t, maxSessions.Load(), int64(maxTotal))
	assert.LessOrEqual(t, st.PermitsInUse, maxTotal)
	assert.Positive(t, st.Total.Closes["stolen"], "pools gave connections up to other identities")
	assert.LessOrEqual(t, st.Total.Open, maxTotal)
	t.Logf("max total: %d calls over %d identities, %d logins, %d stolen, max %d permits / %d sessions seen",
		goroutines*perG, nIDs, env.tds.TotalLogins(), st.Total.Closes["stolen"], maxPermits.Load(), maxSessions.Load())
}
