package postgres

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
)

// sessionConn is the net.Conn under one pgx connection (after TLS: the
// Dialer installs it with pgconn.Config.AfterNetConnect). It lets a release
// defer the session reset to the next request, as SQL Server's
// RESETCONNECTION flag does: the reset's SQL goes in front of the next bytes
// pgx writes, in the same write, and its replies are taken out of what pgx
// reads (see replyFilter), so a release costs no round trip and pgx's
// prepared statements survive it. It also watches what pgx sends (see
// requestWatch), to tell when a release needs the full reset instead.
//
// pgconn's cancel requests dial a connection of their own with
// pgconn.Config.DialFunc, which never passes through AfterNetConnect, so a
// cancel request is never wrapped.
//
// A mutex guards the state, not the I/O: pgconn's background reader can
// Read while a slow Write is in progress.
type sessionConn struct {
	net.Conn

	mu      sync.Mutex
	in      replyFilter
	out     requestWatch
	pending bool // the next write starts with the reset
	// checkReady: the reset's statements are prepared on the session (or
	// their Parse messages are on the way; if one fails the session ends).
	checkReady bool
	wbuf       []byte // the reset and the caller's bytes, for one write
	// sending is closed once a reset that a Read is writing on its own
	// (sendReset) is on the wire; nil when none is. A Write waits
	// for it: see Write.
	sending chan struct{}

	// reading counts Reads in progress on the connection. One can outlive
	// the request it read for: pgconn's background reader, started by a
	// slow write, may read the last reply before pgx stops it and then
	// block in one more Read, which stays in flight after the release
	// (see deferReset).
	reading int

	deferred, full int // releases of each kind, for tests
	// readBegun, if set (tests only), runs in each Read once it is
	// counted in reading, before it reads.
	readBegun func()
}

// maxKeptWriteBuffer bounds the write buffer kept between resets.
const maxKeptWriteBuffer = 64 << 10

// newSessionConn wraps c.
func newSessionConn(c net.Conn) *sessionConn { return &sessionConn{Conn: c} }

// Read reads from the server, less the deferred reset's replies. After a
// failed reset every Read fails.
//
// A Read while the reset is still pending sends the reset first: a call
// that only reads (pgx.Conn.WaitForNotification) would otherwise be handed
// what the last lease's session still produces, the notifications of its
// LISTENs. pgx reads and writes the same connection concurrently only
// within a request (its background reader during a Write), but that reader
// starts on a timer (15 ms after pgx begins a write), so its Read can come
// before the request has reached Write and taken the reset: the request
// then waits in Write until this Read has written the reset (see Write and
// sending), so nothing is written between this reset and what it precedes.
func (c *sessionConn) Read(p []byte) (int, error) {
	for first := true; ; first = false {
		c.mu.Lock()
		failed := c.in.failed
		var reset []byte
		if failed == nil {
			// Counted in the same critical section that looks for a
			// pending reset: a release in between would find no Read
			// in flight, defer the reset, and this Read, having found
			// none to send, would wait past it (see deferReset).
			c.reading++
			if first && c.pending {
				reset = c.takeResetToSend()
			}
		}
		c.mu.Unlock()
		if failed != nil {
			return 0, failed
		}
		if reset != nil {
			if err := c.sendReset(reset); err != nil {
				c.mu.Lock()
				c.reading--
				c.mu.Unlock()
				return 0, err
			}
		}
		if c.readBegun != nil {
			c.readBegun()
		}
		n, err := c.Conn.Read(p)
		c.mu.Lock()
		c.reading--
		m, ferr := c.in.filter(p[:n])
		owed := c.in.owed > 0
		if ferr == nil && err != nil && owed && !isTimeout(err) {
			// The connection ended (or failed) before the reset's
			// replies did. A timeout ended only this Read (a deadline
			// pgconn set for a ctx, such as a WaitForNotification's):
			// the filter follows the stream across reads, so the
			// replies are still taken out when they come, and pgx,
			// which keeps a connection after a timeout, may read on.
			ferr = fmt.Errorf("postgres: the session reset before this call failed: the connection ended before the reset's replies: %w", err)
			c.in.failed = ferr
		}
		c.mu.Unlock()
		switch {
		case ferr != nil:
			return 0, ferr
		case m > 0 || err != nil || n == 0:
			return m, err
		}
		// Everything read was the reset's: read on.
	}
}

// Write writes p, preceded by the deferred reset if one is pending. It never
// puts the reset in front of a Terminate ('X'): a connection being closed
// needs none.
//
// If a Read is sending the reset on its own, Write waits until the reset is
// written: pgconn's background reader starts reading when one of pgx's
// writes is slow (15 ms after pgx starts it), so a Read can take the pending
// reset while the request it should precede is on its way through Write.
// Written in the other order, the request would run on the session the last
// lease left, and its replies would be taken for the reset's. The wait is
// on the reset's write alone, which never waits for a Write, so it cannot
// deadlock the reader that pgconn started to avoid one.
func (c *sessionConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	for c.sending != nil {
		sending := c.sending
		c.mu.Unlock()
		<-sending
		c.mu.Lock()
	}
	if err := c.in.failed; err != nil {
		c.mu.Unlock()
		return 0, err
	}
	if !c.pending || len(p) == 0 || p[0] == 'X' {
		c.out.observe(p)
		c.mu.Unlock()
		return c.Conn.Write(p)
	}
	if !c.out.atBoundary() {
		// Cannot happen: a release leaves pgx between messages. Never
		// send a request that the reset cannot precede.
		err := fmt.Errorf("postgres: the session reset could not be sent: the connection is in the middle of a message")
		c.in.failed = err
		c.mu.Unlock()
		return 0, err
	}
	reset := c.takeReset()
	c.out.observe(p)
	buf := append(append(c.wbuf[:0], reset...), p...)
	if cap(buf) <= maxKeptWriteBuffer {
		c.wbuf = buf
	}
	c.mu.Unlock()
	n, err := c.Conn.Write(buf)
	return max(n-len(reset), 0), err
}

// isTimeout reports whether err is a read deadline's, after which the
// connection can still be read.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// takeReset returns the reset's messages to send now and counts their
// replies as owed; c.mu must be held and the reset pending.
func (c *sessionConn) takeReset() []byte {
	c.pending = false
	c.in.owed += resetReplies
	if !c.checkReady {
		c.checkReady = true
		return resetMessages[1]
	}
	return resetMessages[0]
}

// takeResetToSend takes the pending reset for a Read to send on its own
// (see sendReset): for a Read that no request of pgx's preceded (or one
// that a Write has not yet reached: Write waits for sendReset, see Write).
// c.mu must be held and the reset pending.
func (c *sessionConn) takeResetToSend() []byte {
	reset := c.takeReset()
	c.sending = make(chan struct{})
	return reset
}

// sendReset writes the reset takeResetToSend took, and lets the Writes
// waiting for it go. A failed write fails the connection.
func (c *sessionConn) sendReset(reset []byte) error {
	_, err := c.Conn.Write(reset)
	c.mu.Lock()
	defer c.mu.Unlock()
	close(c.sending)
	c.sending = nil
	if err != nil {
		if c.in.failed == nil {
			c.in.failed = fmt.Errorf("postgres: the session reset before this call failed: it could not be sent: %w", err)
		}
		return c.in.failed
	}
	return nil
}

// deferReset readies the connection for its next lease: it reports whether
// the reset can be deferred to the next request, and if so marks it pending.
// If not (see requestWatch; also when pgx was handed a ParameterStatus, so
// its copy of the session's settings must be refreshed now, or has read a
// message it has not parsed yet), the caller must run the full reset.
//
// Nor is it deferred while a Read is in flight (a background read that
// outlived its request, see reading): that Read began before the reset was
// pending, so it will not send it, and pgx's next Read waits for it. A next
// lease whose first call only reads would be handed whatever the old
// session sends, such as a notification for one of the last lease's
// LISTENs. The full reset's request makes the server answer that Read.
func (c *sessionConn) deferReset() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.in.failed != nil || c.out.dirty || c.in.sawParam || !c.in.afterReady || c.reading > 0 ||
		c.in.owed > 0 || !c.in.atBoundary() || !c.out.atBoundary() {
		c.pending = false
		return false
	}
	c.pending = true
	c.out.resolving = false // the reset puts names back as at login
	c.deferred++
	return true
}

// owesReplies reports whether replies to requests written on the
// connection have not been parsed by pgx: fewer ReadyForQuery messages
// reached pgx than the startup message, Queries, Syncs and FunctionCalls
// written call for, or pgx's read buffer (buffered bytes, pgproto3's
// Frontend.ReadBufferLen) holds more than what reached it after the last
// ReadyForQuery, so a reply up to a ReadyForQuery is read but not parsed.
// pgx is then idle only because the requests went past it (written or read
// through PgConn().Frontend(), say), and their replies, a query result of
// the last lease among them, are still on their way or in pgx's buffer.
// Neither reset can follow: the deferred reset's filter would take the
// first of those still to come for its own, and pgx would hand the rest,
// or those in its buffer, to the next lease as the answer to its request;
// the full reset's DISCARD ALL would read them as its own, leaving its own
// reply to the next lease. The connection must be closed.
func (c *sessionConn) owesReplies(buffered int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.requests != c.in.readies || buffered > c.in.pastReady
}

// fullResetDone records that a full reset just ended: pgx and the server
// agree again, with nothing left to undo.
func (c *sessionConn) fullResetDone() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out.dirty = false
	c.out.resolving = false
	c.in.sawParam = false
	c.checkReady = false // DISCARD ALL deallocated them
	c.full++
}

// counts returns how many releases deferred the reset, how many ran it in
// full, and how many Parse messages pgx sent, for tests.
func (c *sessionConn) counts() (deferred, full, parses int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deferred, c.full, c.out.parses
}

// The deferred reset is DISCARD ALL less DEALLOCATE ALL (DISCARD ALL itself
// cannot run inside a transaction block), as one pipeline of the extended
// protocol sent in front of the next request: a Bind and an Execute for each
// of resetSQL's statements, and one Sync. The session prepares all but two
// of them once (named resetStatement plus their index; the first reset of a
// session, and the first after a full reset, sends their Parse messages);
// the first statement and the check are parsed every time, as the unnamed
// statement (see parsedEveryTime). So the server runs the whole reset as one
// implicit transaction and answers it with one ReadyForQuery (resetReplies),
// and plans one statement per lease, the check. One transaction rather than
// three (the reset's first form: two simple Queries around the check) cut
// the server's CPU time per execution in BenchmarkStmt's default-reset row
// by 10-15% (docs/BENCHMARKS.md). Each statement costs the server 2-4 µs
// whatever it does, the check more (it is parsed and planned each time):
// statements could be merged further only by relying on the order in which
// the server evaluates a select list, and exit_on_error must be on before
// anything can fail.
//
// In order:
//   - exit_on_error on first, so that any later failure ends the session
//     and the requests pgx sent behind the reset never run on a session that
//     was not reset (an error makes the server skip to the Sync; with
//     exit_on_error the error is FATAL). This first statement itself runs
//     under the last lease's statement_timeout: a server stalled for longer
//     than that in its few microseconds cancels it with an ordinary error,
//     and the request behind runs on a session not reset (the package doc
//     states this window);
//   - the check, second, before any prepared statement of the reset runs:
//     SQL-level prepared statements (pg_prepared_statement's from_sql) are
//     refused rather than deallocated (that would take PL/pgSQL): the text
//     pgx sent would have named PREPARE (see requestWatch), so one here was
//     made by server-side code, possibly under the name of one of the
//     reset's own statements to switch it off (see parsedEveryTime), and
//     the reset fails closed. pgx's own protocol-level statements are kept:
//     that is the point. The check is a flat scan, no subquery, because it
//     is planned every time: about a third of what planning the reset's
//     first form of it cost. It runs under the last lease's
//     statement_timeout and lock_timeout; one so low that the check cannot
//     finish ends the session (fail closed), costing that connection;
//   - statement_timeout and lock_timeout, which the last lease may have set
//     low, off for the rest of the reset; SET SESSION AUTHORIZATION DEFAULT
//     and RESET ROLE (set_config with a NULL value resets); the session
//     advisory locks. One statement: none of them depends on another;
//   - CLOSE ALL (cursors), UNLISTEN * (LISTEN), DISCARD TEMP (temporary
//     tables) and DISCARD SEQUENCES (currval and lastval);
//   - RESET ALL last: every setting back to the login's (DSN runtime
//     parameters and ALTER ROLE ... SET included), exit_on_error with them.
//
// DISCARD PLANS is left out: it is not isolation. A kept statement's cached
// plan is checked by the server on each use against the search_path, the
// user (for row-level security) and the catalog, and planned again when they
// changed; but its result columns were fixed at its Parse, and a statement
// whose names now resolve to other objects fails instead ("cached plan must
// not change result type"), so a lease that may have prepared one under
// names of its own gets the full reset (see requestWatch).
var resetSQL = [...]string{
	"SET exit_on_error = on",
	// A row only for an SQL-level statement, whose cast fails. The CASE
	// keeps the planner from folding the cast of a constant, which would
	// fail every time.
	"SELECT CAST(CASE WHEN s.from_sql THEN 'idpool: an SQL-level prepared statement (PREPARE) is left in the session' END AS int) " +
		"FROM pg_catalog.pg_prepared_statement() s WHERE s.from_sql",
	// Settings independent of each other, so the order in which the
	// server evaluates the select list does not matter.
	"SELECT pg_catalog.set_config('statement_timeout', '0', false), pg_catalog.set_config('lock_timeout', '0', false), " +
		"pg_catalog.set_config('session_authorization', NULL, false), pg_catalog.set_config('role', NULL, false), " +
		"pg_catalog.pg_advisory_unlock_all()",
	"CLOSE ALL", "UNLISTEN *", "DISCARD TEMP", "DISCARD SEQUENCES",
	"RESET ALL",
}

const (
	// resetStatement prefixes the names of the reset's prepared
	// statements: idpool_session_reset_1, _2, ... (none for the first
	// statement and the check, parsed every time).
	resetStatement = "idpool_session_reset"
	resetReplies   = 1
	// resetCheck is the check's index in resetSQL.
	resetCheck = 1
)

// parsedEveryTime reports whether resetSQL[i] is sent as the unnamed
// statement, parsed by every reset, rather than prepared once: the first,
// so that exit_on_error is on before anything can fail, and the check, so
// that a lease cannot switch it off. Server-side code of a lease can
// deallocate a prepared statement and prepare another under its name (its
// text naming neither, which requestWatch cannot see); a check so replaced
// would let every later reset of the session skip the role reset and keep
// whatever other statement the lease replaced the same way. A check parsed
// afresh finds any such statement (an SQL-level one) and fails the reset.
// TestDeferredResetSurvivesALeaseThatReplacesItsStatements shows the attack.
func parsedEveryTime(i int) bool { return i == 0 || i == resetCheck }

// resetMessages are the deferred reset's messages: [0] for a session that
// has the reset's statements prepared, [1] with the Parse messages that
// prepare them.
var resetMessages = func() [2][]byte {
	msg := func(b []byte, typ byte, parts ...string) []byte {
		at := len(b)
		b = append(b, typ, 0, 0, 0, 0)
		for _, p := range parts {
			b = append(b, p...)
		}
		binary.BigEndian.PutUint32(b[at+1:at+5], uint32(len(b)-at-1))
		return b
	}
	name := func(i int) string { return resetStatement + "_" + strconv.Itoa(i) }
	// run binds the unnamed portal to statement with no parameters and
	// text results, and runs it to completion.
	run := func(b []byte, statement string) []byte {
		b = msg(b, 'B', "\x00", statement, "\x00", "\x00\x00", "\x00\x00", "\x00\x00")
		return msg(b, 'E', "\x00", "\x00\x00\x00\x00")
	}
	build := func(parse bool) []byte {
		// exit_on_error is parsed every time, as the unnamed statement,
		// so that it is on before anything that can fail runs: a Parse
		// of the others, or a Bind of one that a lease had pgx
		// deallocate (pgx.Conn.Deallocate sends a Close, which
		// requestWatch does not follow). The check is too: see
		// parsedEveryTime.
		b := msg(nil, 'P', "\x00", resetSQL[0], "\x00", "\x00\x00")
		b = run(b, "")
		if parse {
			for i := 1; i < len(resetSQL); i++ {
				if !parsedEveryTime(i) {
					b = msg(b, 'P', name(i), "\x00", resetSQL[i], "\x00", "\x00\x00")
				}
			}
		}
		for i := 1; i < len(resetSQL); i++ {
			if parsedEveryTime(i) {
				b = msg(b, 'P', "\x00", resetSQL[i], "\x00", "\x00\x00")
				b = run(b, "")
				continue
			}
			b = run(b, name(i))
		}
		return msg(b, 'S')
	}
	return [2][]byte{build(false), build(true)}
}()
