package integration

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/XSAM/otelsql"
	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/idpool/idpool/manager"
)

// cancelMidQuery runs run with a ctx it cancels once the server shows
// login's request running, and checks that run fails and that every lease
// comes back.
func cancelMidQuery(t *testing.T, r *rig, login string, run func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	require.Eventually(t, func() bool { return r.running(t, login) }, 30*time.Second, 5*time.Millisecond, "the query runs")
	cancel()
	err := <-done
	require.Error(t, err)
	require.Eventually(t, func() bool { return r.db.Manager.Stats().Total.Busy == 0 }, 30*time.Second, time.Millisecond,
		"every lease back: %+v", r.db.Manager.Stats().Total)
	require.Eventually(t, func() bool { return !r.running(t, login) }, 30*time.Second, 5*time.Millisecond, "the query ended at the server")
}

// checkBoth checks that each identity's calls run as its login on db.
func checkBoth(t *testing.T, r *rig, db *sql.DB) {
	t.Helper()
	ctx := testCtx(t)
	for range 2 {
		var who string
		require.NoError(t, db.QueryRowContext(as(ctx, r.alice), r.whoAmI).Scan(&who))
		assert.Equal(t, r.aliceLogin, who)
		require.NoError(t, db.QueryRowContext(as(ctx, r.bob), r.whoAmI).Scan(&who))
		assert.Equal(t, r.bobLogin, who)
	}
}

// TestEcoCancelMidQuery: a ctx cancelled while the server runs the query,
// whichever library made the call (GORM with PrepareStmt, in and out of a
// transaction; sqlx; sqlc-style prepared statements in a transaction; a
// *sql.Conn; otelsql), ends the call, the query at the server, and the
// lease, with database/sql keeping and capping shells; both identities'
// calls then still run as themselves.
func TestEcoCancelMidQuery(t *testing.T) {
	servers(t, func(t *testing.T, r *rig) {
		r.db.SetMaxIdleConns(2)
		r.db.SetMaxOpenConns(4)
		r.db.SetConnMaxLifetime(time.Minute)
		gdb := openGORMWith(t, r, &gorm.Config{PrepareStmt: true})
		dbx := sqlx.NewDb(r.db.DB, r.driverName)
		q, err := Prepare(context.Background(), r.db.DB, sqlcText[r.driverName])
		require.NoError(t, err)
		defer q.Close()
		sleepStmt, err := r.db.PrepareContext(context.Background(), r.sleep)
		require.NoError(t, err)
		defer sleepStmt.Close()

		cases := []struct {
			name string
			run  func(ctx context.Context) error
		}{
			{"facade", func(ctx context.Context) error {
				_, err := r.db.ExecContext(as(ctx, r.alice), r.sleep)
				return err
			}},
			{"gorm prepared", func(ctx context.Context) error {
				return gdb.WithContext(as(ctx, r.alice)).Exec(r.sleep).Error
			}},
			{"gorm transaction", func(ctx context.Context) error {
				return gdb.WithContext(as(ctx, r.alice)).Transaction(func(tx *gorm.DB) error {
					return tx.Exec(r.sleep).Error
				})
			}},
			{"sqlx preparex", func(ctx context.Context) error {
				st, err := dbx.PreparexContext(as(ctx, r.alice), r.sleep)
				if err != nil {
					return err
				}
				defer st.Close()
				_, err = st.ExecContext(as(ctx, r.alice))
				return err
			}},
			{"sqlx beginx", func(ctx context.Context) error {
				tx, err := dbx.BeginTxx(as(ctx, r.alice), nil)
				if err != nil {
					return err
				}
				defer tx.Rollback()
				_, err = tx.ExecContext(ctx, r.sleep)
				return err
			}},
			{"sqlc withtx", func(ctx context.Context) error {
				tx, err := r.db.BeginTx(as(ctx, r.alice), nil)
				if err != nil {
					return err
				}
				defer tx.Rollback()
				_, err = tx.StmtContext(ctx, sleepStmt).ExecContext(ctx)
				return err
			}},
			{"db stmt", func(ctx context.Context) error {
				_, err := sleepStmt.ExecContext(as(ctx, r.alice))
				return err
			}},
			{"sql.Conn", func(ctx context.Context) error {
				c, err := r.db.Conn(as(ctx, r.alice))
				if err != nil {
					return err
				}
				defer c.Close()
				_, err = c.ExecContext(ctx, r.sleep)
				return err
			}},
			{"otelsql", func(ctx context.Context) error {
				odb := otelsql.OpenDB(manager.NewConnector(r.db.Manager))
				defer odb.Close()
				_, err := odb.ExecContext(as(ctx, r.alice), r.sleep)
				return err
			}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				cancelMidQuery(t, r, r.aliceLogin, c.run)
				checkBoth(t, r, r.db.DB)
				var who string
				require.NoError(t, gdb.WithContext(as(testCtx(t), r.alice)).Raw(r.whoAmI).Scan(&who).Error)
				assert.Equal(t, r.aliceLogin, who)
				who, err := q.WhoAmI(as(testCtx(t), r.bob))
				require.NoError(t, err)
				assert.Equal(t, r.bobLogin, who)
			})
		}
	})
}
