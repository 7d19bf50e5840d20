package postgres

import (
	"context"
	"database/sql/driver"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// WithoutSessionReset turns the session reset off: a connection goes from
// one lease to the next lease of the same identity with its session as the
// last lease left it, as with plain database/sql over pgx, pgxpool, or
// Npgsql's "No Reset On Close=true". It saves the server the reset's work on
// every lease (eight short statements, one of them planned each time: more
// than a SELECT 1 itself), and suits code that leaves no session state
// behind: parameterised queries, sqlc-style generated code, transactions
// that end.
//
// What then persists from one lease to the next lease of the same identity:
// SET and set_config (statement_timeout, search_path, ... and custom
// settings), SET ROLE and SET SESSION AUTHORIZATION (so current_user may be
// another role than the login's), temporary tables, SQL-level PREPAREd
// statements and pgx.Conn.Prepare's named statements, cursors declared WITH
// HOLD, LISTEN (and notifications pgx buffered for it), session advisory
// locks (never released until the connection closes) and sequences'
// currval and lastval.
//
// What still holds:
//   - a connection never serves another identity: each identity has its
//     own pool, and the lease guard is unchanged;
//   - a transaction left open is still ended at release: one begun through
//     the facade or a Lease's Conn is rolled back, and a connection still
//     in a transaction any other way (a Lease's or Pool's pgx.Tx not ended,
//     a BEGIN sent as SQL) is closed, not reused (pgx's stdlib refuses to
//     hand it on);
//   - a connection released while a result is still being read is closed,
//     not reused;
//   - a read or write deadline a lease set on the network connection
//     (PgConn().Conn().SetDeadline) is cleared at release, as with the
//     reset;
//   - pgx's statement cache stays, as it does with the reset.
//
// The option applies to the Dialer, so to OpenDB (every Option is an
// OpenOption) and to OpenPool's pgx-native Pool. It has no DSN form: pgx and
// pgxpool have no such DSN parameter to follow. A
// WithConnectorOptions(stdlib.OptionResetSession(...)) cannot turn a reset
// back on, nor run anything at release: the Dialer's own reset options come
// last with or without this option, so the caller's function is never
// called.
func WithoutSessionReset() Option {
	return func(d *Dialer) { d.keepSession = true }
}

// sessionOptions are the stdlib options that make *stdlib.Conn's
// ResetSession what the Dialer promises: the full session reset, or with
// keep (WithoutSessionReset) only the checks that must hold either way.
// They go after the caller's connector options so that no option can
// change that.
func sessionOptions(keep bool) []stdlib.OptionOpenDB {
	reset := resetSession
	if keep {
		reset = keepSession
	}
	return []stdlib.OptionOpenDB{
		stdlib.OptionResetSession(reset),
		// The reset is itself a round trip that proves the connection
		// alive, so pgx's own liveness ping before it would only add a
		// second one. Without the reset, a release stays free of I/O, as
		// it is with the deferred reset: the pool's health check
		// (manager.Config.HealthCheckAfter) tests a connection that was
		// idle for long when it is handed out.
		stdlib.OptionShouldPing(func(context.Context, stdlib.ShouldPingParams) bool { return false }),
	}
}

// keepSession is the ResetSession hook of a Dialer built with
// WithoutSessionReset: it leaves the session as it is and does no I/O, but
// still refuses a connection that must not be reused. pgx's stdlib has
// already refused one in a transaction (driver.ErrBadConn) before calling
// it; this refuses one whose result is still being read, whose next reply
// would reach the next lease, and any release while the Manager closes; and
// it clears a deadline the lease left on the network connection, which is
// no session state but would fail the next lease's first call.
func keepSession(ctx context.Context, c *pgx.Conn) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: connection not reused: %w: %w", driver.ErrBadConn, err)
	}
	if c.PgConn().IsBusy() {
		return fmt.Errorf("postgres: connection not reused: a result is still being read: %w", driver.ErrBadConn)
	}
	return clearDeadlines(c.PgConn())
}
