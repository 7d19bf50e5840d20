package integration

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/XSAM/otelsql"
	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/tokens"
)

// TestEcoStatementsPreparedByOneIdentityServeAnother: statements prepared
// at the *sql.DB level with one identity's ctx (sqlx Preparex, sqlc's
// Prepare with a request's ctx) run as each caller's identity, on their
// own and through a transaction of another identity (sqlx Tx.Stmtx, sqlc
// WithTx), with database/sql keeping shells idle and capping them, and
// under otelsql with its defaults.
func TestEcoStatementsPreparedByOneIdentityServeAnother(t *testing.T) {
	servers(t, func(t *testing.T, r *rig) {
		ctx := testCtx(t)
		r.db.SetMaxIdleConns(3)
		r.db.SetMaxOpenConns(3)
		odb := otelsql.OpenDB(manager.NewConnector(r.db.Manager)) // database/sql's defaults: 2 idle
		t.Cleanup(func() { require.NoError(t, odb.Close()) })
		for name, db := range map[string]*sqlx.DB{"facade": sqlx.NewDb(r.db.DB, r.driverName), "otelsql": sqlx.NewDb(odb, r.driverName)} {
			t.Run(name, func(t *testing.T) {
				st, err := db.PreparexContext(as(ctx, r.alice), r.whoAmI)
				require.NoError(t, err)
				defer st.Close()
				q, err := Prepare(as(ctx, r.alice), db.DB, sqlcText[r.driverName])
				require.NoError(t, err)
				defer q.Close()
				ids := []struct {
					id    tokens.Identity
					login string
				}{{r.alice, r.aliceLogin}, {r.bob, r.bobLogin}}
				var wg sync.WaitGroup
				for g := range 4 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := range 10 {
							c := ids[(g+i)%2]
							cctx := as(ctx, c.id)
							var who string
							if assert.NoError(t, st.GetContext(cctx, &who)) {
								assert.Equal(t, c.login, who, "db-level stmt")
							}
							who, err := q.WhoAmI(cctx)
							if assert.NoError(t, err) {
								assert.Equal(t, c.login, who, "sqlc")
							}
							tx, err := db.BeginTxx(cctx, nil)
							if !assert.NoError(t, err) {
								continue
							}
							if assert.NoError(t, tx.Stmtx(st).Get(&who)) {
								assert.Equal(t, c.login, who, "Tx.Stmtx")
							}
							who, err = q.WithTx(tx.Tx).WhoAmI(context.Background())
							if assert.NoError(t, err) {
								assert.Equal(t, c.login, who, "sqlc WithTx")
							}
							echo, err := q.WithTx(tx.Tx).Echo(cctx, c.login)
							if assert.NoError(t, err) {
								assert.Equal(t, c.login, echo)
							}
							assert.NoError(t, tx.Commit())
						}
					}()
				}
				wg.Wait()
			})
		}
		require.Eventually(t, func() bool { return r.db.Manager.Stats().Total.Busy == 0 }, 5*time.Second, time.Millisecond)
	})
}
