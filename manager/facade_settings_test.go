package manager

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFacadeServesQueuedCallersOfManyIdentitiesUnderAnyDatabaseSQLSetting:
// with database/sql's own caps, callers queue inside database/sql, whose
// connection opener connects with a ctx of its own (no identity) and hands
// connections from caller to caller. Every call that carries an identity
// must still run as that identity and succeed: never "no identity", never
// another identity's connection.
func TestFacadeServesQueuedCallersOfManyIdentitiesUnderAnyDatabaseSQLSetting(t *testing.T) {
	const identities, perIdentity, calls = 6, 4, 15
	for _, tc := range []struct {
		name          string
		maxOpen, idle int
		lifetime      time.Duration
	}{
		{"max open 1", 1, 0, 0},
		{"max open 2, idle 2", 2, 2, 0},
		{"max open 3, idle 1, lifetime 1ms", 3, 1, time.Millisecond},
		{"idle 8, no cap", 0, 8, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newManager(t, Config{MaxSize: 2, AcquireTimeout: 30 * time.Second})
			db := openFacade(t, m)
			db.SetMaxOpenConns(tc.maxOpen)
			db.SetMaxIdleConns(tc.idle)
			db.SetConnMaxLifetime(tc.lifetime)
			var wg sync.WaitGroup
			errs := make(chan error, identities*perIdentity*calls)
			for i := range identities {
				name := fmt.Sprint("user", i)
				for range perIdentity {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range calls {
							var who string
							if err := db.QueryRowContext(as(name), "SELECT IDENTITY").Scan(&who); err != nil {
								errs <- fmt.Errorf("%s: %w", name, err)
								return
							}
							if who != "test:"+name {
								errs <- fmt.Errorf("%s ran as %s", name, who)
								return
							}
						}
					}()
				}
			}
			wg.Wait()
			close(errs)
			var all []error
			for err := range errs {
				all = append(all, err)
			}
			require.Empty(t, all)
			assert.LessOrEqual(t, m.Stats().Pools, identities)
		})
	}
}

// TestFacadeConnKeptAfterCloseNeverBindsAgain: database/sql takes a
// connection back (its lease goes back then) and closes it; a careless
// caller that kept the driver connection and calls on it is refused, and no
// lease is taken that nobody would give back.
func TestFacadeConnKeptAfterCloseNeverBindsAgain(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 1})
	db := openFacade(t, m)
	c, err := db.Conn(as("alice"))
	require.NoError(t, err)
	var dc *Conn
	require.NoError(t, c.Raw(func(raw any) error { dc = raw.(*Conn); return nil }))
	require.NoError(t, c.Close())
	for range 3 {
		require.ErrorIs(t, dc.Ping(as("alice")), ErrLeaseReleased)
		_, err := dc.ExecContext(as("alice"), "SELECT 1", nil)
		require.ErrorIs(t, err, ErrLeaseReleased)
	}
	assert.Zero(t, m.Stats().Total.Busy, "no lease taken after Close")
	l := acquire(t, m, identity("alice")) // MaxSize 1: the one connection is free
	l.Release(nil)
}
