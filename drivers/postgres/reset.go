package postgres

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/idpool/idpool/manager"
)

// resetTimeout bounds one session reset. The pool's Release calls
// ResetSession with a ctx that has no deadline (the Manager's lifetime), so a
// server that stops answering would otherwise hold the releasing goroutine;
// past the bound pgx cancels the query, the reset fails and the connection is
// closed. The Manager's CancelGrace (manager.ReleaseGrace), when shorter,
// bounds it instead: the releasing goroutine is the caller's (database/sql
// releases before a call returns, and at (*sql.Conn).Close and Tx.Commit),
// and the rollback and result-set Close Release makes are bounded by it too.
const resetTimeout = 10 * time.Second

// resetBound is how long the DISCARD ALL of a reset with ctx may take.
func resetBound(ctx context.Context) time.Duration {
	if g, ok := manager.ReleaseGrace(ctx); ok && g < resetTimeout {
		return g
	}
	return resetTimeout
}

// resetSession returns c to the state of a fresh login, as SQL Server's
// sp_reset_connection does, so that nothing one lease set is seen by the
// next: pgx's stdlib calls it from ResetSession, on every release of a kept
// connection, once it has made sure that no transaction is open.
//
// Usually the reset is deferred to the next request, with no I/O now: the
// connection's sessionConn sends resetSQL in front of it, in the same write,
// and pgx's prepared statements survive (see sessionConn). When the lease
// did something that needs pgx's side cleared too (see
// sessionConn.deferReset), the full reset runs now instead: DISCARD ALL, one
// round trip, which also deallocates every prepared statement, and pgx
// forgets its statement caches and named statements with it.
//
// Either way covers every kind of session state: SET and set_config (RESET
// ALL, back to the values of the login, DSN runtime parameters included),
// SET ROLE and SET SESSION AUTHORIZATION, SQL-level prepared statements,
// cursors, temporary tables, session advisory locks, LISTEN and sequences'
// currval; and notifications pgx read for the old LISTENs and buffered are
// dropped. A deadline the lease set on the network connection is cleared
// (see clearDeadlines).
//
// Any failure is driver.ErrBadConn (with the cause): the session is in an
// unknown state and must be closed, never reused. A deferred reset that
// fails fails the request it precedes instead, and pgx closes the
// connection.
func resetSession(ctx context.Context, c *pgx.Conn) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: session reset refused: %w: %w", driver.ErrBadConn, err)
	}
	pc := c.PgConn()
	if pc.IsBusy() {
		return fmt.Errorf("postgres: session reset refused: a result is still being read: %w", driver.ErrBadConn)
	}
	if err := clearDeadlines(pc); err != nil {
		return err
	}
	sc, wrapped := pc.Conn().(*sessionConn)
	if wrapped && sc.owesReplies(pc.Frontend().ReadBufferLen()) {
		return fmt.Errorf("postgres: session reset refused: replies to requests written past pgx have not been read: %w", driver.ErrBadConn)
	}
	if wrapped && sc.deferReset() {
		dropNotifications(c)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, resetBound(ctx))
	defer cancel()
	if _, err := pc.Exec(ctx, "DISCARD ALL").ReadAll(); err != nil {
		return fmt.Errorf("postgres: session reset (DISCARD ALL) failed: %w: %w", driver.ErrBadConn, err)
	}
	forgetClientState(c)
	if wrapped {
		sc.fullResetDone()
	}
	return nil
}

// clearDeadlines takes off a read or write deadline left on the network
// connection under pgx, without I/O. pgx clears the deadline it sets for a
// ctx before its call returns, so one on an idle connection was set by the
// lease itself (through PgConn().Conn()): left there, the next lease's first
// call would fail with an i/o timeout its own ctx does not explain, and
// close the connection.
func clearDeadlines(pc *pgconn.PgConn) error {
	if err := pc.Conn().SetDeadline(time.Time{}); err != nil {
		return fmt.Errorf("postgres: connection not reused: clearing its deadline failed: %w: %w", driver.ErrBadConn, err)
	}
	return nil
}

// done is a ctx that has already ended, for the pgx calls below that must
// touch only the client side.
var done = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// forgetClientState drops what pgx remembers of the session DISCARD ALL just
// ended, without I/O. pgx v5 has no call that only clears its caches:
// DeallocateAll clears them and then runs DEALLOCATE ALL, which the server
// has just done as part of DISCARD ALL. Given an ended ctx, pgconn refuses
// the query before writing anything and leaves the connection as it was
// (pgconn.PgConn.Exec checks ctx.Done first), so the caches go and no second
// round trip is made. TestResetKeepsPgxStatementCachesConsistent pins this
// behaviour of the pgx version in go.mod.
func forgetClientState(c *pgx.Conn) {
	_ = c.DeallocateAll(done)
	dropNotifications(c)
}

// dropNotifications drops the notifications pgx has buffered, without I/O.
func dropNotifications(c *pgx.Conn) {
	// Buffered notifications come first; once none is left pgconn refuses
	// the ended ctx without reading.
	for {
		n, _ := c.WaitForNotification(done)
		if n == nil {
			return
		}
	}
}
