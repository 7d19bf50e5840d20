package integration

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/idpool/idpool/internal/pgtest"
)

// TestEcoSessionStateDoesNotCrossRequests: the RLS pattern, a tenant set
// in the session for one request (sp_set_session_context / set_config),
// never reaches the next request's calls, whatever library runs them.
func TestEcoSessionStateDoesNotCrossRequests(t *testing.T) {
	servers(t, func(t *testing.T, r *rig) {
		r.db.SetMaxIdleConns(4)
		r.db.SetMaxOpenConns(4)
		ctx := testCtx(t)
		gdb := openGORMWith(t, r, &gorm.Config{PrepareStmt: true})
		dbx := sqlx.NewDb(r.db.DB, r.driverName)
		var set, get string
		switch r.driverName {
		case "sqlserver":
			set = "EXEC sp_set_session_context @key = N'tenant', @value = N'A'"
			get = "SELECT SESSION_CONTEXT(N'tenant')"
		default:
			set = "SELECT set_config('app.tenant', 'A', false)"
			get = "SELECT NULLIF(current_setting('app.tenant', true), '')"
		}
		readers := map[string]func(ctx context.Context) (string, error){
			"facade": func(ctx context.Context) (string, error) {
				var s sql.NullString
				err := r.db.QueryRowContext(ctx, get).Scan(&s)
				return s.String, err
			},
			"gorm": func(ctx context.Context) (string, error) {
				var s sql.NullString
				err := gdb.WithContext(ctx).Raw(get).Scan(&s).Error
				return s.String, err
			},
			"gorm tx": func(ctx context.Context) (string, error) {
				var s sql.NullString
				err := gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return tx.Raw(get).Scan(&s).Error })
				return s.String, err
			},
			"sqlx": func(ctx context.Context) (string, error) {
				var s sql.NullString
				err := dbx.GetContext(ctx, &s, get)
				return s.String, err
			},
			"sqlx stmt": func(ctx context.Context) (string, error) {
				st, err := dbx.PreparexContext(ctx, get)
				if err != nil {
					return "", err
				}
				defer st.Close()
				var s sql.NullString
				err = st.GetContext(ctx, &s)
				return s.String, err
			},
		}
		for i := range 5 {
			for _, idCtx := range []context.Context{as(ctx, r.alice), as(ctx, r.bob)} {
				// One request sets the tenant, in several shapes.
				switch i {
				case 0:
					_, err := r.db.ExecContext(idCtx, set)
					require.NoError(t, err)
				case 1:
					require.NoError(t, gdb.WithContext(idCtx).Exec(set).Error)
				case 2:
					require.NoError(t, gdb.WithContext(idCtx).Transaction(func(tx *gorm.DB) error {
						if err := tx.Exec(set).Error; err != nil {
							return err
						}
						var s sql.NullString
						require.NoError(t, tx.Raw(get).Scan(&s).Error)
						assert.Equal(t, "A", s.String, "set in its own transaction")
						return nil
					}))
				case 3:
					c, err := r.db.Conn(idCtx)
					require.NoError(t, err)
					_, err = c.ExecContext(idCtx, set)
					require.NoError(t, err)
					var s sql.NullString
					require.NoError(t, c.QueryRowContext(idCtx, get).Scan(&s))
					assert.Equal(t, "A", s.String)
					require.NoError(t, c.Close())
				case 4:
					_, err := dbx.ExecContext(idCtx, set)
					require.NoError(t, err)
				}
				for name, read := range readers {
					for _, rid := range []context.Context{as(ctx, r.alice), as(ctx, r.bob)} {
						s, err := read(rid)
						require.NoError(t, err, name)
						assert.Empty(t, s, "%s: a later request sees no tenant (shape %d)", name, i)
					}
				}
			}
		}
		require.Eventually(t, func() bool { return r.db.Manager.Stats().Total.Busy == 0 }, 5*time.Second, time.Millisecond)
	})
}

// TestEcoCancelWhileReadingRows: a ctx cancelled while the caller reads a
// long result ends the read, and the lease comes back.
func TestEcoCancelWhileReadingRows(t *testing.T) {
	r := startPG(t, pgtest.Shared(t))
	r.db.SetMaxIdleConns(2)
	gdb := openGORMWith(t, r, &gorm.Config{PrepareStmt: true})
	dbx := sqlx.NewDb(r.db.DB, r.driverName)
	const q = "SELECT generate_series(1, 100000000)" // streamed, unlike a FROM generate_series
	for name, open := range map[string]func(ctx context.Context) (*sql.Rows, error){
		"facade": func(ctx context.Context) (*sql.Rows, error) { return r.db.QueryContext(ctx, q) },
		"gorm":   func(ctx context.Context) (*sql.Rows, error) { return gdb.WithContext(ctx).Raw(q).Rows() },
		"sqlx": func(ctx context.Context) (*sql.Rows, error) {
			rows, err := dbx.QueryxContext(ctx, q)
			if err != nil {
				return nil, err
			}
			return rows.Rows, nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(as(testCtx(t), r.alice))
			defer cancel()
			rows, err := open(ctx)
			require.NoError(t, err)
			for range 10 {
				require.True(t, rows.Next())
			}
			cancel()
			for rows.Next() {
			}
			require.Error(t, rows.Err())
			require.NoError(t, rows.Close())
			require.Eventually(t, func() bool { return r.db.Manager.Stats().Total.Busy == 0 }, 30*time.Second, time.Millisecond)
			checkBoth(t, r, r.db.DB)
		})
	}
}
