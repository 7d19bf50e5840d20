package integration

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	gormpostgres "gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/idpool/idpool/internal/pgtest"
	"github.com/idpool/idpool/tokens"
)

// author and post are GORM models with a has-many, a hook and a column
// defaulting to the inserting login.
type author struct {
	ID    uint `gorm:"primaryKey"`
	Name  string
	Owner string `gorm:"default:(current_user)"`
	Hook  string
	Posts []post
}

// BeforeCreate records, on the create's own transaction, whose session
// runs it.
func (a *author) BeforeCreate(tx *gorm.DB) error {
	return tx.Raw("SELECT current_user::text").Scan(&a.Hook).Error
}

type post struct {
	ID       uint `gorm:"primaryKey"`
	AuthorID uint
	Title    string
	Owner    string `gorm:"default:(current_user)"`
}

// TestEcoGORMPreparedPoolSettingsTwoIdentities: GORM with PrepareStmt, its
// default transaction per write, a hook, Preload and batch inserts, and
// database/sql's pool settings through db.DB(), by concurrent requests of
// two identities sharing GORM's statement cache: every row, hook and
// query is of the request's own login, and every lease comes back.
func TestEcoGORMPreparedPoolSettingsTwoIdentities(t *testing.T) {
	srv := pgtest.Shared(t)
	r := startPG(t, srv)
	for _, role := range []string{r.aliceLogin, r.bobLogin} {
		srv.Exec(t, "CREATE SCHEMA AUTHORIZATION "+role)
	}
	ctx := testCtx(t)
	gdb, err := gorm.Open(gormpostgres.New(gormpostgres.Config{Conn: r.db.DB}),
		&gorm.Config{Logger: logger.Discard, PrepareStmt: true})
	require.NoError(t, err)
	sqlDB, err := gdb.DB()
	require.NoError(t, err)
	sqlDB.SetMaxOpenConns(3)
	sqlDB.SetMaxIdleConns(3)
	sqlDB.SetConnMaxLifetime(time.Minute)
	sqlDB.SetConnMaxIdleTime(time.Minute)

	ids := []struct {
		id    tokens.Identity
		login string
	}{{r.alice, r.aliceLogin}, {r.bob, r.bobLogin}}
	for _, c := range ids {
		require.NoError(t, gdb.WithContext(as(ctx, c.id)).AutoMigrate(&author{}, &post{}))
	}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				c := ids[(g+i)%2]
				db := gdb.WithContext(as(ctx, c.id))
				a := author{Name: fmt.Sprintf("%d-%d", g, i), Posts: []post{{Title: "x"}, {Title: "y"}}}
				if !assert.NoError(t, db.Create(&a).Error) {
					return
				}
				assert.Equal(t, c.login, a.Hook, "hook")
				var got author
				if !assert.NoError(t, db.Preload("Posts").First(&got, a.ID).Error) {
					return
				}
				assert.Equal(t, c.login, got.Owner)
				assert.Len(t, got.Posts, 2)
				for _, p := range got.Posts {
					assert.Equal(t, c.login, p.Owner)
				}
				batch := []post{{AuthorID: a.ID, Title: "b1"}, {AuthorID: a.ID, Title: "b2"}, {AuthorID: a.ID, Title: "b3"}}
				assert.NoError(t, db.CreateInBatches(&batch, 2).Error)
				// Not the hook's text: GORM's cache lets a transaction
				// wait for a text that a call outside one is preparing,
				// which needs a connection of a pool those transactions
				// may fill (go-gorm/gorm#7465, with any pool).
				var who string
				assert.NoError(t, db.Raw("SELECT current_user::text AS outside_tx").Scan(&who).Error)
				assert.Equal(t, c.login, who)
				assert.NoError(t, db.Transaction(func(tx *gorm.DB) error {
					var who string
					if err := tx.Raw("SELECT current_user::text").Scan(&who).Error; err != nil {
						return err
					}
					assert.Equal(t, c.login, who, "in tx")
					return tx.Model(&author{}).Where("id = ?", a.ID).Update("name", "upd").Error
				}))
			}
		}()
	}
	wg.Wait()
	for _, c := range ids {
		var n int64
		require.NoError(t, gdb.WithContext(as(ctx, c.id)).Model(&author{}).Where("owner <> ?", c.login).Count(&n).Error)
		assert.Zero(t, n)
		require.NoError(t, gdb.WithContext(as(ctx, c.id)).Model(&author{}).Count(&n).Error)
		assert.EqualValues(t, 45, n)
	}
	require.Eventually(t, func() bool { return r.db.Manager.Stats().Total.Busy == 0 }, 5*time.Second, time.Millisecond)
}
