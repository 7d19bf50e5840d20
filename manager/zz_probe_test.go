package manager

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/idpool/idpool/sim/memdb"
	"github.com/idpool/idpool/tokens"
)

func TestProbeChaosClose(t *testing.T) {
	for round := 0; round < 20; round++ {
		db := memdb.New()
		m, err := New(Config{Server: "memdb:1/x", Dialer: db, MaxSize: 2, MinSize: 1, MaxTotal: 3, PoolIdleTimeout: time.Millisecond, HealthCheckAfter: -1, IdleTimeout: 2 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ids := []tokens.Identity{identity("a"), identity("b"), identity("c"), identity("d")}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					id := ids[(g+i)%len(ids)]
					ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
					switch (g + i) % 7 {
					case 0:
						_ = m.Evict(ctx, id)
					case 1:
						_ = m.Reset(ctx)
					case 2:
						_ = m.Stats()
					default:
						l, err := m.Acquire(ctx, id)
						if err == nil {
							l.Release(nil)
						} else if !errors.Is(err, ErrClosed) && !errors.Is(err, ErrAcquireTimeout) {
							t.Errorf("acquire: %v", err)
						}
					}
					cancel()
				}
			}(g)
		}
		time.Sleep(20 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = m.Close(ctx)
		cancel()
		close(stop)
		wg.Wait()
		if err != nil {
			t.Errorf("round %d close: %v", round, err)
		}
		if db.PeakOpen() > 3 {
			t.Errorf("peak %d", db.PeakOpen())
		}
		if db.OpenNow() != 0 {
			t.Errorf("open %d", db.OpenNow())
		}
		s := m.Stats()
		if s.Total.Open != 0 || s.Pools != 0 {
			t.Errorf("stats after close %+v", fmt.Sprint(s.Pools, s.Total.Open))
		}
	}
}
