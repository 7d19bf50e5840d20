package postgres

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// requestWatch follows the frames pgx sends (the untyped startup message,
// then a type byte and a big-endian int32 length that counts itself, then
// the body; a frame may be split across writes) and notes whether the lease
// did something the deferred reset cannot undo on pgx's side, in which case
// the release falls back to the full reset that also clears pgx's caches:
//
//   - a Parse ('P') of a named statement that is not one of pgx's statement
//     cache: pgx.Conn.Prepare and database/sql's own prepared statements.
//     The server-side reset deallocates it but pgx would keep it in its map
//     of prepared statements. pgx's cache names its statements
//     "stmtcache_" + hex(sha256(sql)[:24]) (internal/stmtcache.StatementName
//     in pgx v5), so a name that equals that digest of its own text is the
//     cache's (one forged that way is still the statement pgx would prepare
//     for that text, so keeping it is harmless);
//   - SQL text (a simple Query, or a statement's text) that mentions
//     PREPARE, DEALLOCATE or DISCARD: an SQL-level prepared statement (which
//     the deferred reset refuses to keep, see resetSQL), or a statement of
//     pgx's cache deallocated behind pgx's back;
//   - SQL text that mentions idle_session_timeout: a deferred reset would
//     leave it in force while the connection sits idle in the pool, where
//     it ends the session and fails the next lease's first request; the
//     full reset restores it at the release;
//   - SQL text that calls a function taking a session advisory lock
//     (pg_advisory_lock, pg_try_advisory_lock and their _shared forms): a
//     deferred reset would keep the lock held by a connection idle in the
//     pool, blocking every other session that wants it (the next lease on
//     another connection included) until the connection is used again.
//     One taken by server-side code is still released only then;
//   - a Parse after SQL text of the lease named a change of what a query's
//     names resolve to (resolveChanges: CREATE TEMP and the like, pg_temp,
//     the search_path or SET SCHEMA, SET ROLE or SET SESSION AUTHORIZATION,
//     which "$user" in the search_path follows): pgx may keep what the Parse
//     fixed, a statement of its cache, whose result columns are fixed when
//     it is prepared, or in QueryExecModeCacheDescribe a description, whose
//     parameter types it sends with every later run of the text, while the
//     deferred reset puts the session back where those names resolve to
//     other objects (the temporary table dropped, the login's search_path
//     and role). The next lease's run of the same text would fail ("cached
//     plan must not change result type", SQLSTATE 0A000, or a parameter of
//     the wrong type) where a fresh login's would run. The full reset makes
//     pgx forget both. A Parse of the unnamed statement counts only on a
//     connection whose default mode (the DSN's default_query_exec_mode) is
//     QueryExecModeCacheDescribe: elsewhere it is one pgx keeps nothing of
//     (CopyFrom's look at the table's columns, as in the usual staging
//     pattern of a temporary table filled by CopyFrom; or
//     QueryExecModeDescribeExec), and the wire does not tell them apart, so
//     a query given QueryExecModeCacheDescribe as its own mode, on such a
//     connection, is not seen. A change made by server-side code is out
//     of sight: the next lease's first run of such a text then fails once
//     (pgx forgets what it kept on the error). So does a lease's own run,
//     after it changed its names, of a text an earlier lease left prepared,
//     as on any pgx connection that keeps its statements (pgxpool's).
//
// A frame too large to inspect counts as dirty: the fallback is always safe.
type requestWatch struct {
	started bool // the startup message has gone by

	hdr  [5]byte
	hdrN int
	body int
	keep bool // collect the current frame's body to inspect it
	buf  []byte

	dirty bool
	// resolving: SQL text of the lease named a change of resolveChanges,
	// so a statement parsed from then on may name objects a reset session
	// does not (see the list above). Cleared when the reset is
	// deferred or run in full.
	resolving bool
	// unnamedKept: pgx keeps what a Parse of the unnamed statement
	// fixes (its default mode caches descriptions), so such a Parse
	// counts after a change as a named one does; see the list above.
	unnamedKept bool
	lost        bool // a frame could not be followed: dirty for good
	parses      int  // Parse messages seen, for tests
	// requests counts the messages the server answers with a
	// ReadyForQuery of its own: the startup message, Query, Sync and
	// FunctionCall. replyFilter.readies counts those that reached pgx; a
	// release finding fewer than were asked for refuses the connection
	// (see sessionConn.owesReplies).
	requests int
}

// maxInspectedFrame bounds the body of a frame collected across writes to
// inspect it; past it the lease counts as dirty.
const maxInspectedFrame = 1 << 20

// observe follows the frames in p.
func (r *requestWatch) observe(p []byte) {
	for i := 0; i < len(p) && !r.lost; {
		hl := r.headerLen()
		if r.hdrN < hl {
			// A whole frame in p, the usual case: pgx writes whole
			// messages. Inspect it in place.
			if r.hdrN == 0 && r.started && len(p)-i >= 5 {
				n := int(int32(binary.BigEndian.Uint32(p[i+1 : i+5])))
				if n >= 4 && len(p)-i-1 >= n {
					r.count(p[i])
					r.inspect(p[i], p[i+5:i+1+n])
					i += 1 + n
					continue
				}
			}
			r.hdr[r.hdrN] = p[i]
			r.hdrN++
			i++
			if r.hdrN == hl {
				n := int(int32(binary.BigEndian.Uint32(r.hdr[hl-4 : hl])))
				if n < 4 {
					// Not a frame pgx would send: stop following and
					// fall back for good.
					r.dirty = true
					r.lost = true
					return
				}
				r.body = n - 4
				if r.started {
					r.count(r.hdr[0])
				} else {
					r.requests++ // the startup message: the login ends with a ReadyForQuery
				}
				r.keep = r.started && (r.hdr[0] == 'P' || r.hdr[0] == 'Q')
				r.buf = r.buf[:0]
				if r.body == 0 {
					r.endFrame()
				}
			}
			continue
		}
		k := min(r.body, len(p)-i)
		if r.keep {
			if len(r.buf)+k > maxInspectedFrame {
				r.keep = false
				r.dirty = true
				r.buf = nil
			} else {
				r.buf = append(r.buf, p[i:i+k]...)
			}
		}
		i += k
		r.body -= k
		if r.body == 0 {
			r.endFrame()
		}
	}
}

// headerLen is 4 for the untyped startup message, 5 after it.
func (r *requestWatch) headerLen() int {
	if r.started {
		return 5
	}
	return 4
}

func (r *requestWatch) endFrame() {
	if r.keep {
		r.inspect(r.hdr[0], r.buf)
		r.keep = false
	}
	r.hdrN = 0
	r.started = true
}

// atBoundary reports whether the stream is between frames.
func (r *requestWatch) atBoundary() bool { return r.hdrN == 0 && !r.lost }

// count counts a frame of type typ, after the startup message, that the
// server answers with a ReadyForQuery: Query, Sync, FunctionCall.
func (r *requestWatch) count(typ byte) {
	switch typ {
	case 'Q', 'S', 'F':
		r.requests++
	}
}

// inspect looks at one whole frame of type typ.
func (r *requestWatch) inspect(typ byte, body []byte) {
	switch typ {
	case 'P':
		r.parses++
		name, rest, _ := bytes.Cut(body, []byte{0})
		query, _, _ := bytes.Cut(rest, []byte{0})
		r.scan(query)
		if (len(name) > 0 && (r.resolving || !isCacheStatementName(name, query))) || (r.resolving && r.unnamedKept) {
			r.dirty = true
		}
	case 'Q':
		r.scan(body)
	}
}

// fallbackWords are the words (whole, in any case) whose mention in SQL
// text makes the release run the full reset; see requestWatch.
var fallbackWords = [...]string{
	"prepare", "deallocate", "discard", "idle_session_timeout",
	"pg_advisory_lock", "pg_advisory_lock_shared", "pg_try_advisory_lock", "pg_try_advisory_lock_shared",
}

// resolveChanges are the words (whole, in any case; after the word before
// them, if one is given) after which in SQL text a Parse makes the release
// run the full reset: they change what a query's names resolve to (see
// requestWatch). The word before keeps the usual column names role and
// temp out: a query naming one would otherwise cost every lease that
// parses it (each, after the full reset made pgx forget it) a round trip.
// Words between them other than spaces (a comment) hide the change, with
// the cost described in requestWatch.
var resolveChanges = [...]struct{ before, word string }{
	{"", "search_path"}, {"", "pg_temp"}, {"", "session_authorization"},
	{"set", "schema"}, // SET SCHEMA 'x' sets the search_path
	// CREATE [LOCAL | GLOBAL] TEMP, CREATE OR REPLACE TEMP VIEW,
	// SELECT ... INTO TEMP.
	{"create", "temp"}, {"local", "temp"}, {"global", "temp"}, {"replace", "temp"}, {"into", "temp"},
	{"create", "temporary"}, {"local", "temporary"}, {"global", "temporary"}, {"replace", "temporary"}, {"into", "temporary"},
	// SET [SESSION | LOCAL] ROLE, RESET ROLE, set_config('role', ...).
	{"set", "role"}, {"reset", "role"}, {"session", "role"}, {"local", "role"}, {"'", "role"},
	{"session", "authorization"}, // SET SESSION AUTHORIZATION
}

// scan marks the lease dirty if sql mentions a statement, setting or
// function the deferred reset leaves to the fallback, and resolving if it
// names a change of resolveChanges. One pass over sql, looking at the start
// of each word only.
func (r *requestWatch) scan(sql []byte) {
	for i := 0; i < len(sql) && !(r.dirty && r.resolving); i++ {
		if i > 0 && isIdentByte(sql[i-1]) {
			continue
		}
		c := lowerASCII(sql[i])
		for _, w := range fallbackWords {
			if !r.dirty && w[0] == c && wordAt(sql, i, w) {
				r.dirty = true
			}
		}
		for _, rc := range resolveChanges {
			if !r.resolving && rc.word[0] == c && wordAt(sql, i, rc.word) && wordBefore(sql[:i], rc.before) {
				r.resolving = true
			}
		}
	}
}

// isCacheStatementName reports whether name is the one pgx's statement cache
// gives query.
func isCacheStatementName(name, query []byte) bool {
	const prefix = "stmtcache_"
	if len(name) != len(prefix)+48 || string(name[:len(prefix)]) != prefix {
		return false
	}
	digest := sha256.Sum256(query)
	var h [48]byte
	hex.Encode(h[:], digest[:24])
	return string(name[len(prefix):]) == string(h[:])
}

// wordAt reports whether s holds the lower-case ASCII word at i, in any
// case, ending there as a whole word: at "PREPARE x" it does, at
// "pg_prepared_statements" it does not (scan looks only where a word
// starts). Text built at run time by server-side code is out of its sight;
// the reset's own check catches what that leaves (see resetSQL).
func wordAt(s []byte, i int, word string) bool {
	if len(s)-i < len(word) {
		return false
	}
	for j := range len(word) {
		if lowerASCII(s[i+j]) != word[j] {
			return false
		}
	}
	return i+len(word) == len(s) || !isIdentByte(s[i+len(word)])
}

// wordBefore reports whether s ends with the lower-case ASCII word before
// (in any case, past ASCII white space, as a whole word); a before of "'"
// asks for a quote right at the end instead (a string literal's start), and
// an empty one for nothing.
func wordBefore(s []byte, before string) bool {
	switch before {
	case "":
		return true
	case "'":
		return len(s) > 0 && s[len(s)-1] == '\''
	}
	end := len(s)
	for end > 0 && isSpace(s[end-1]) {
		end--
	}
	at := end - len(before)
	if at < 0 || (at > 0 && isIdentByte(s[at-1])) {
		return false
	}
	for k := range len(before) {
		if lowerASCII(s[at+k]) != before[k] {
			return false
		}
	}
	return true
}

// isSpace reports whether b is ASCII white space, as the SQL lexer skips it.
func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '\v'
}

// lowerASCII lowers an ASCII letter and leaves any other byte as it is
// ('_' must stay '_': b|0x20 would make it DEL).
func lowerASCII(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b | 0x20
	}
	return b
}

// isIdentByte reports whether b can be part of an SQL identifier.
func isIdentByte(b byte) bool {
	return b == '_' || b == '$' || b >= 0x80 || ('0' <= b && b <= '9') || ('a' <= b|0x20 && b|0x20 <= 'z')
}
