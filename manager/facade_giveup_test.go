package manager

import (
	"context"
	"database/sql/driver"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/sim/memdb"
)

// TestFacadeConnGivenUpByAWaitingCallServesItsNextTaker: with
// SetMaxOpenConns, database/sql's connection opener hands a new
// connection to a call waiting for one; when that call's ctx ends as the
// connection reaches it, database/sql puts it back without marking it for
// a reset (sql.go's putConn(..., false)), so the next call that takes it
// is handed it without ResetSession. The facade's shell had parked at that
// put-back (IsValid), as for a connection a call gave back, and refused
// the next taker's calls as a kept handle's (ErrBadConn): a db-level call
// retried, but a *sql.Conn, which database/sql never retries, failed its
// first call. The race is the scheduler's: the test cancels the waiting
// call from inside the opener's Connect (the default identity's acquire)
// and tries up to 200 times; on the old code most tries failed.
func TestFacadeConnGivenUpByAWaitingCallServesItsNextTaker(t *testing.T) {
	var cancelWaiter atomic.Pointer[context.CancelFunc]
	mem := memdb.New()
	m, _ := newManager(t, Config{MaxSize: 2, Dialer: DialerFunc(func(ctx context.Context, req DialRequest) (driver.Conn, error) {
		return mem.Dial(ctx, req)
	}), Hooks: Hooks{PrepareConn: func(ctx context.Context, conn driver.Conn) (bool, error) {
		if conn.(*memdb.Conn).Identity() == "test:dflt" {
			if c := cancelWaiter.Swap(nil); c != nil {
				(*c)() // the opener is connecting for the waiting call: it gives up now
			}
		}
		return true, nil
	}}})
	db := openFacade(t, m, WithDefaultIdentity(identity("dflt")))
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	for try := range 200 {
		holder, err := db.Conn(as("alice"))
		require.NoError(t, err)
		require.NoError(t, holder.PingContext(as("alice")))

		waiting, cancel := context.WithCancel(as("bob"))
		cancelWaiter.Store(&cancel)
		waitsBefore := db.Stats().WaitCount
		gaveUp := make(chan struct{})
		go func() {
			defer close(gaveUp)
			if c, err := db.Conn(waiting); err == nil {
				_ = c.Close()
			}
		}()
		for db.Stats().WaitCount == waitsBefore {
			runtime.Gosched() // until the call waits in database/sql
		}
		// The holder's connection goes bad: database/sql closes it and its
		// opener connects anew for the waiting call.
		_ = holder.Raw(func(any) error { return driver.ErrBadConn })
		_ = holder.Close()
		<-gaveUp
		cancel()

		next, err := db.Conn(as("carol"))
		require.NoError(t, err)
		var who string
		err = next.QueryRowContext(as("carol"), "SELECT IDENTITY").Scan(&who)
		_ = next.Close()
		require.NoError(t, err, "try %d: the next taker's *sql.Conn failed its first call", try)
		require.Equal(t, "test:carol", who)
	}
}
