package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// spidOwners remembers which login each server session (SPID) answered for:
// a physical connection is dialled for one identity and must never answer
// for another. SPIDs are not reused while sessions stay open, and these
// tests close none before they end.
type spidOwners struct {
	mu     sync.Mutex
	owners map[int64]string
	clash  []string
}

func newSPIDOwners() *spidOwners { return &spidOwners{owners: map[int64]string{}} }

func (o *spidOwners) note(spid int64, login string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if prev, ok := o.owners[spid]; ok && prev != login {
		o.clash = append(o.clash, fmt.Sprintf("spid %d answered as %s and as %s", spid, prev, login))
		return
	}
	o.owners[spid] = login
}

// TestMSSQLIsolationManyIdentities: 200 identities (user-assigned managed
// identities and service principals, through the real azidentity
// credentials), 64 goroutines and thousands of calls through the *sql.DB
// facade, as plain queries, transactions and pinned *sql.Conn. Every
// SUSER_SNAME() answers the identity in the call's ctx, and each server
// session only ever answers for the identity that dialled it.
func TestMSSQLIsolationManyIdentities(t *testing.T) {
	const (
		nMI, nSP   = 100, 100
		goroutines = 64
		perG       = 48
	)
	env := startMSSQL(t)
	ids := make([]testIdentity, 0, nMI+nSP)
	for i := range nMI {
		ids = append(ids, env.managedIdentity(t, fmt.Sprint(i)))
	}
	for i := range nSP {
		ids = append(ids, env.servicePrincipal(t, fmt.Sprint(i)))
	}
	db := env.openDB(t, manager.Config{MaxSize: 2})
	ctx := testCtx(t, 90*time.Second)

	owners := newSPIDOwners()
	var queries, mismatches, failures atomic.Int64
	var first firstErr
	fail := func(err error) {
		failures.Add(1)
		first.keep(err)
	}
	check := func(id testIdentity, got string, spid int64) {
		queries.Add(1)
		if got != id.Login {
			mismatches.Add(1)
		}
		owners.note(spid, got)
	}

	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 42))
			for range perG {
				id := ids[rng.IntN(len(ids))]
				cctx := tokens.WithIdentity(ctx, id.ID)
				var err error
				switch rng.IntN(4) {
				case 0, 1: // a plain query
					var login string
					var spid int64
					err = db.QueryRowContext(cctx, "SELECT SUSER_SNAME(), @@SPID").Scan(&login, &spid)
					if err == nil {
						check(id, login, spid)
					}
				case 2: // a transaction pins its lease until Commit
					err = inTx(cctx, db.DB, func(tx *sql.Tx) error {
						for range 2 {
							var login string
							var spid int64
							if err := tx.QueryRowContext(cctx, "SELECT SUSER_SNAME(), @@SPID").Scan(&login, &spid); err != nil {
								return err
							}
							check(id, login, spid)
						}
						return nil
					})
				case 3: // a *sql.Conn pins its lease until Close
					err = onConn(cctx, db.DB, func(c *sql.Conn) error {
						var login string
						var spid int64
						if err := c.QueryRowContext(cctx, "SELECT SUSER_SNAME(), @@SPID").Scan(&login, &spid); err != nil {
							return err
						}
						check(id, login, spid)
						// A parameterised call goes through sp_executesql.
						var echoed string
						if err := c.QueryRowContext(cctx, "SELECT @p1", id.Login).Scan(&echoed); err != nil {
							return err
						}
						if echoed != id.Login {
							return fmt.Errorf("parameter echoed %q", echoed)
						}
						return nil
					})
				}
				if err != nil {
					fail(err)
				}
			}
		}()
	}
	wg.Wait()

	require.Zero(t, failures.Load(), "first error: %v", first.err())
	require.Zero(t, mismatches.Load(), "SUSER_SNAME() answered another identity")
	owners.mu.Lock()
	require.Empty(t, owners.clash)
	owners.mu.Unlock()
	require.GreaterOrEqual(t, queries.Load(), int64(goroutines*perG))

	st := settledStats(t, db.Manager, env.tds.TotalLogins)
	assert.Equal(t, len(ids), st.Pools)
	var logins int
	for _, id := range ids {
		n := env.tds.Logins(id.Login)
		logins += n
		assert.LessOrEqual(t, n, 2, "MaxSize 2 per identity")
		// The credential caches its one-hour token: one token endpoint hit
		// per identity, however many connections it opened.
		if n > 0 {
			assert.Equal(t, 1, env.entra.Issued(id.Name), id.Name)
		}
	}
	assert.Equal(t, logins, env.tds.TotalLogins())
	assert.LessOrEqual(t, st.Total.TokenMints, uint64(logins), "a mint only to open a connection")
	assert.Zero(t, env.tds.FailedLogins())
	assert.Zero(t, st.Total.Busy)
	t.Logf("isolation: %d identities, %d SUSER_SNAME checks, %d logins, %d mints, %d token endpoint hits, %d hits / %d misses",
		len(ids), queries.Load(), logins, st.Total.TokenMints, env.entra.TotalIssued(), st.Total.Hits, st.Total.Misses)
}

// inTx runs f in a transaction and commits, or rolls back on error.
func inTx(ctx context.Context, db *sql.DB, f func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// onConn runs f on a dedicated *sql.Conn and closes it.
func onConn(ctx context.Context, db *sql.DB, f func(*sql.Conn) error) error {
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return f(c)
}
