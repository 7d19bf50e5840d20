package manager

import (
	"context"
	"database/sql/driver"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// TestFacadeOpenerNeverMakesAQueuedCallWaitOnTheDefaultIdentity: with
// SetMaxOpenConns, database/sql's connection opener connects with a ctx of
// its own (no identity) and hands the connection to a call queued for one.
// That call is bob's: it must run as bob, whatever the default identity's
// pool is doing. The opener's Connect acquired a lease of the default
// identity, which bob's call then gave back: so bob's call failed with the
// default identity's token error (naming its pool, not bob's), or, while
// the default identity's pool was full, waited on that pool (here until
// its own ctx ended) although bob's pool had room.
func TestFacadeOpenerNeverMakesAQueuedCallWaitOnTheDefaultIdentity(t *testing.T) {
	errNoToken := errors.New("the default identity's credential is down")
	for _, tc := range []struct {
		name string
		svc  func(t *testing.T, m *Manager) tokens.Identity
	}{
		{"its token fails", func(*testing.T, *Manager) tokens.Identity {
			return tokens.New(tokens.KindProvidedToken, "test:svc", tokens.SourceFunc(func(context.Context) (tokens.Token, error) {
				return tokens.Token{}, errNoToken
			}))
		}},
		{"its pool is full", func(t *testing.T, m *Manager) tokens.Identity {
			svc := identity("svc")
			l := acquire(t, m, svc) // MaxSize 1: held until the test ends
			t.Cleanup(func() { l.Release(nil) })
			return svc
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, mem := newManager(t, Config{MaxSize: 1, AcquireTimeout: time.Minute})
			db := openFacade(t, m, WithDefaultIdentity(tc.svc(t, m)))
			db.SetMaxOpenConns(1)
			alices, err := db.Conn(as("alice"))
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(as("bob"), 10*time.Second)
			defer cancel()
			type answer struct {
				who string
				err error
			}
			got := make(chan answer, 1)
			go func() {
				var a answer
				a.err = db.QueryRowContext(ctx, "SELECT IDENTITY").Scan(&a.who)
				got <- a
			}()
			eventually(t, func() bool { return db.Stats().WaitCount == 1 }, "bob waits")
			mem.FailQueries(1, driver.ErrBadConn)
			_, err = alices.ExecContext(as("alice"), "SELECT 1")
			require.ErrorIs(t, err, driver.ErrBadConn)
			_ = alices.Close() // closed as bad (database/sql closed it already): the opener makes bob's
			a := <-got
			require.NoError(t, a.err)
			assert.Equal(t, "test:bob", a.who)
		})
	}
}
