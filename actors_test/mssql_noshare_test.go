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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/manager"
)

// dialLedger records, for every physical connection, the identity (pool
// key discriminator) it was dialled for, and which lease holds it now.
type dialLedger struct {
	mu       sync.Mutex
	dialled  map[driver.Conn]string
	holder   map[driver.Conn]uint64
	dialFail int
}

func newDialLedger() *dialLedger {
	return &dialLedger{dialled: map[driver.Conn]string{}, holder: map[driver.Conn]uint64{}}
}

// wrap returns a dialer that records each connection d opens.
func (l *dialLedger) wrap(d manager.Dialer) manager.Dialer {
	return manager.DialerFunc(func(ctx context.Context, req manager.DialRequest) (driver.Conn, error) {
		c, err := d.Dial(ctx, req)
		l.mu.Lock()
		defer l.mu.Unlock()
		if err != nil {
			l.dialFail++
			return nil, err
		}
		l.dialled[c] = req.Key.Discriminator()
		return c, nil
	})
}

// take marks c held by lease n; it reports the identity c was dialled for
// and whether another lease holds it already.
func (l *dialLedger) take(c driver.Conn, n uint64) (dialledFor string, shared bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, held := l.holder[c]; held {
		shared = true
	}
	l.holder[c] = n
	return l.dialled[c], shared
}

func (l *dialLedger) give(c driver.Conn, n uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.holder[c] == n {
		delete(l.holder, c)
	}
}

// TestMSSQLIdentitiesNeverShareConnections: 1,000 identities (managed
// identities and service principals) and random acquires from 32
// goroutines. Each lease's connection was dialled for the lease's identity
// (the dialer's ledger), no connection is leased twice at once, and the
// server says every query ran as the lease's identity.
func TestMSSQLIdentitiesNeverShareConnections(t *testing.T) {
	const (
		nIDs       = 1000
		goroutines = 32
		perG       = 70
	)
	env := startMSSQL(t)
	ids := make([]testIdentity, nIDs)
	discs := make([]string, nIDs)
	for i := range ids {
		if i%2 == 0 {
			ids[i] = env.managedIdentity(t, fmt.Sprint(i))
		} else {
			ids[i] = env.servicePrincipal(t, fmt.Sprint(i))
		}
		var err error
		discs[i], err = ids[i].ID.Discriminator(context.Background())
		require.NoError(t, err)
	}
	ledger := newDialLedger()
	db := env.openManager(t, manager.Config{MaxSize: 2}, ledger.wrap)
	ctx := testCtx(t, 120*time.Second)

	var leaseSeq atomic.Uint64
	var acquires, wrongDialler, sharedConn, wrongLogin atomic.Int64
	var first firstErr
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			for range perG {
				i := rng.IntN(nIDs)
				l, err := db.Manager.Acquire(ctx, ids[i].ID)
				if err != nil {
					first.keep(err)
					continue
				}
				acquires.Add(1)
				n := leaseSeq.Add(1)
				dialledFor, shared := ledger.take(l.Raw(), n)
				if dialledFor != discs[i] {
					wrongDialler.Add(1)
				}
				if shared {
					sharedConn.Add(1)
				}
				for range 1 + rng.IntN(2) {
					got, err := leaseQuery(ctx, l, "SELECT SUSER_SNAME()")
					if err != nil {
						first.keep(err)
						break
					}
					if got != ids[i].Login {
						wrongLogin.Add(1)
					}
				}
				ledger.give(l.Raw(), n)
				l.Release(nil)
			}
		}()
	}
	wg.Wait()

	require.NoError(t, first.err())
	assert.Zero(t, wrongDialler.Load(), "a lease got a connection dialled for another identity")
	assert.Zero(t, sharedConn.Load(), "a connection was leased twice at once")
	assert.Zero(t, wrongLogin.Load(), "SUSER_SNAME() answered another identity")
	assert.EqualValues(t, goroutines*perG, acquires.Load())
	st := settledStats(t, db.Manager, env.tds.TotalLogins)
	ledger.mu.Lock()
	dialled := len(ledger.dialled)
	ledger.mu.Unlock()
	assert.EqualValues(t, dialled, st.Total.Opens)
	assert.Zero(t, env.tds.FailedLogins())
	t.Logf("no sharing: %d identities, %d acquires, %d connections dialled, %d hits, %d token endpoint hits",
		nIDs, acquires.Load(), dialled, st.Total.Hits, env.entra.TotalIssued())
}
