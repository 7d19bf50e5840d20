package memdb_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/memdb"
)

func TestAwaitWakesOnCloseFromAnotherGoroutine(t *testing.T) {
	db := memdb.New()
	conns := []*memdb.Conn{dial(t, db, "", ""), dial(t, db, "", ""), dial(t, db, "", "")}
	go func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, db.Await(ctx, func() bool { return db.OpenNow() == 0 }))
	for _, c := range db.Conns() {
		assert.True(t, c.Closed)
	}
}

func TestAwaitGivesUpWithCtx(t *testing.T) {
	db := memdb.New()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	err := db.Await(ctx, func() bool { return db.Opened() == 1 })
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// Many goroutines, each with conns of its own, commit and roll back against
// the shared store; run under -race this checks the DB's own locking.
func TestConcurrentConnsShareTheStoreSafely(t *testing.T) {
	db := memdb.New()
	const workers, rounds = 8, 200
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			c, err := db.Dial(ctx, dialReq(w))
			if !assert.NoError(t, err) {
				return
			}
			mc := c.(*memdb.Conn)
			for i := range rounds {
				_, err := mc.ExecContext(ctx, "BEGIN", nil)
				assert.NoError(t, err)
				_, err = mc.ExecContext(ctx, "INSERT t", nil)
				assert.NoError(t, err)
				end := "COMMIT"
				if i%2 == 1 {
					end = "ROLLBACK"
				}
				_, err = mc.ExecContext(ctx, end, nil)
				assert.NoError(t, err)
				assert.True(t, mc.IsValid())
				assert.NoError(t, mc.ResetSession(ctx))
			}
			assert.NoError(t, mc.Close())
		})
	}
	// Readers of the records race the writers.
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				_ = db.Conns()
				_ = db.CommittedRows("t")
				_ = db.OpenNow()
			}
		}
	})
	wg.Wait()
	close(stop)
	readers.Wait()
	assert.Equal(t, workers*rounds/2, db.CommittedRows("t"))
	assert.Equal(t, 0, db.OpenNow())
	assert.Equal(t, 0, db.Misuse())
	for _, c := range db.Conns() {
		assert.Equal(t, rounds*5, c.Uses)
		assert.Equal(t, rounds*3, c.Queries)
	}
}
