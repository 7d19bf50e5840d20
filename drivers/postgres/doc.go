// Package postgres dials PostgreSQL for idpool with pgx (github.com/jackc/pgx/v5),
// handing back pgx's database/sql driver connections (*stdlib.Conn), so the
// pool's database/sql facade uses them unchanged, and offers pgx's own API
// over the same pools.
//
// Azure Database for PostgreSQL takes an Entra ID access token (scope
// tokens.ScopePostgreSQL) as the login password, and the login name is the
// Entra principal's name: the Dialer logs a token identity in with the token
// it is given as the password (it never mints one itself), as the user
// WithLoginUser names or WithUser maps the identity to. A SQL-login identity
// uses the DSN's own user and password.
//
// # Three ways in
//
// OpenDB returns the *sql.DB facade; OpenPool returns a Pool, the pgx-native
// API shaped like pgxpool's (Acquire, AcquireFunc, Exec, Query, QueryRow,
// SendBatch, CopyFrom, Begin, BeginTx), whose leases hand out the *pgx.Conn;
// NewPool puts a Pool over an existing Manager, such as a facade's, so that
// both share its pools. Both parse the DSN once and honour pgxpool's pool
// parameters in it where idpool has the setting (see OpenPool); NewDialer,
// for building a Manager by hand, refuses them.
//
// A Pool's calls, and those of the Rows, Row, BatchResults and Tx they
// return, run inside the Manager's lease guard (manager.Lease.WithRaw), one
// guarded step per call: a result being read leaves the lease free between
// two calls, and after Release the next call is refused without touching
// the connection. A Release while a result is still open, or a transaction
// not ended, finds pgx's connection busy or in a transaction; the session
// reset below then fails and the connection is closed, never reused,
// without reading the rest of the result (as pgxpool does): Release
// returns at once, even when the server has stopped answering mid-reply.
//
// A result set or a transaction left open on a manager.Lease instead (the
// facade's driver connection reached through sql.Conn.Raw, or
// Manager.Acquire and Lease.Conn) is closed or rolled back by Release. pgx
// would read the rest of the reply under the query's ctx, and sends the
// ROLLBACK and waits for its answer under the BeginTx ctx, either of which
// may never end (context.Background()). The Dialer is a manager.Aborter for
// those waits: it closes the network connection under pgx (the TCP
// connection, under TLS), so the Close or rollback fails at once, and the
// connection is closed, never reused. A result set left open is cut at once
// (its connection is closed anyway, and pgx runs no reader of its own, so
// nothing needs the rest of the reply); a rollback, once
// manager.Config.CancelGrace (2s by default) has passed since Release began
// it. It is a manager.CtxBounded Aborter: pgx ends every call at its ctx by
// itself, so no call is watched and calls cost nothing more; with
// CancelGrace negative nothing is cut, a result set left open is read to
// its end, and that Close or rollback is unbounded.
//
// # Session reset
//
// A connection goes from one lease to the next, possibly of another caller,
// so its session must not carry anything over. The dialer's connections reset
// the session in ResetSession, which the pool calls on every Release of a
// kept connection (after rolling back a transaction left open), as SQL
// Server's sp_reset_connection does: it undoes SET and set_config, SET ROLE
// and SET SESSION AUTHORIZATION, SQL-level prepared statements, cursors,
// temporary tables, session advisory locks, LISTEN and sequences' currval,
// and drops the notifications pgx buffered; it also clears a read or write
// deadline the lease set on the network connection under pgx
// (PgConn().Conn().SetDeadline), which would otherwise fail the next
// lease's first call with an i/o timeout. Settings given as runtime
// parameters in the DSN (or by ALTER ROLE ... SET) survive, as at login;
// anything an stdlib.OptionAfterConnect set does not.
//
// Usually the release does no I/O: like SQL Server's RESETCONNECTION flag,
// the reset (DISCARD ALL's parts less DEALLOCATE ALL: eight statements, run
// as one pipeline and one implicit transaction; the connection prepares six
// of them once, and parses two every time: the first, which turns
// exit_on_error on, and the check of what a lease could leave behind, so
// that a lease's server-side code cannot swap in a statement of its own
// under the check's name) is written in front of the next request on the
// connection, in the same write (or sent on its own when the next call only
// reads, as pgx.Conn.WaitForNotification does), and its replies are taken
// out of what pgx reads, so it costs no round trip, and the statements of
// pgx's statement cache stay prepared: a query text, and a *sql.Stmt of the
// facade, is parsed once per connection. It still costs the server the work
// of eight short statements per lease, one of them planned every time, more
// than a SELECT 1 itself. The
// server runs it with exit_on_error on: if it fails, the server ends the
// session before the request behind it runs, that request fails with an
// error naming the session reset, and the connection is closed. The error
// is then also driver.ErrBadConn (the call did not run), so database/sql,
// and so the facade, runs the call again on another connection unless the
// caller pinned this one (a *sql.Conn, which database/sql then closes). A
// reset whose final ReadyForQuery reports a transaction still open (a broken
// or hostile server, or a session out of step with pgx) fails the request
// the same way, but not as driver.ErrBadConn: the request ran inside that
// transaction, which closing the connection rolls back. One window
// is left: the statement that turns exit_on_error on runs under the
// statement_timeout the last lease left. Should the server stall for longer
// than that timeout in those few microseconds, it cancels the statement
// with an ordinary error, skips the rest of the reset, and runs the request
// behind it on the session as the last lease of the same identity left it;
// the request still fails with the reset's error and the connection is
// closed, but what the request did on the server stands. A statement_timeout
// of milliseconds (a lease's, or the login's own from the DSN or ALTER ROLE)
// and a server stalled that long are both needed.
//
// A lease that prepared named statements itself (pgx.Conn.Prepare,
// database/sql statements outside pgx's cache), sent SQL naming PREPARE,
// DEALLOCATE, DISCARD or idle_session_timeout (which would otherwise end
// the session while it sits idle in the pool, failing the next lease's
// first request), called a function that takes a session advisory lock
// (which would otherwise stay held by the idle connection, blocking other
// sessions), had pgx prepare a query for its statement cache (or, with the
// DSN's default_query_exec_mode=cache_describe, describe one for its
// description cache) after SQL that changes what names resolve to (CREATE
// TEMP and the like, pg_temp, search_path, SET SCHEMA, SET ROLE, SET
// SESSION AUTHORIZATION: what pgx keeps of the query was fixed on objects
// the reset takes away, and the next lease's run of the same text would
// otherwise fail, with "cached plan must not change result type" or a
// parameter of the wrong type; a lease that changes its names itself still
// meets, once, what earlier leases left, as with pgxpool), or changed a
// setting the server reports to pgx
// (TimeZone, application_name, ...) is reset at release instead with
// DISCARD ALL, one round trip, and pgx forgets its statements with the
// server's; that reset failing, or taking longer than the Manager's
// CancelGrace (2 seconds by default; at most 10 seconds, and 10 with
// CancelGrace off), reports driver.ErrBadConn
// and the connection is closed instead of reused: database/sql releases in
// the caller's goroutine, before a call returns and at (*sql.Conn).Close. Either
// way, statements prepared by name do not survive a release: prepare them
// per lease. A prepared statement made by server-side code (EXECUTE
// 'PREPARE ...' in a function) is not deallocated by the deferred reset: the
// reset refuses it and fails closed as above.
//
// A connection released while replies to requests written past pgx
// (PgConn().Frontend(), say) have not been parsed by pgx is closed rather
// than reset: pgx is idle, but fewer ReadyForQuery messages reached it than
// the requests written call for, or its read buffer still holds a reply up
// to a ReadyForQuery (read only in part through Frontend().Receive). Either
// reset would hand those replies, a query result of the last lease among
// them, to the next lease.
//
// The reset runs on every release rather than only after a lease that
// changed something: knowing that would mean parsing every statement, and
// server-side code can change the session too. It replaces pgx's own
// liveness ping before reuse.
//
// WithoutSessionReset turns the reset off, per Dialer, as Npgsql's "No
// Reset On Close=true" does: a release then does nothing to the session
// (no SQL, no wrapper under pgx), and what a lease leaves in it is seen by
// the next lease of the same identity, never by another identity's. A
// transaction left open is still rolled back or its connection closed, and
// a connection released with a result still open is still closed, and a
// deadline left on the network connection is still cleared. See
// WithoutSessionReset for the full list, and use it only for code that
// leaves no session state behind.
//
// Errors never carry the password or token: the dialer's errors keep pgx's
// message (which names the user and database) and its cause chain, less
// pgconn.ConnectError, whose Config field holds the password.
package postgres
