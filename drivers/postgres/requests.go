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
//     One taken by server-side code is still released only then.
//
// A frame too large to inspect counts as dirty: the fallback is always safe.
type requestWatch struct {
	started bool // the startup message has gone by

	hdr  [5]byte
	hdrN int
	body int
	keep bool // collect the current frame's body to inspect it
	buf  []byte

	dirty  bool
	lost   bool // a frame could not be followed: dirty for good
	parses int  // Parse messages seen, for tests
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
		if len(name) > 0 && !isCacheStatementName(name, query) {
			r.dirty = true
		}
		r.scan(query)
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

// scan marks the lease dirty if sql mentions a statement, setting or
// function the deferred reset leaves to the fallback.
func (r *requestWatch) scan(sql []byte) {
	for _, w := range fallbackWords {
		if r.dirty {
			return
		}
		r.dirty = containsFold(sql, w)
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

// containsFold reports whether s contains the lower-case ASCII word, in any
// case, as a whole word: "PREPARE x" does, "pg_prepared_statements" does
// not. Text built at run time by server-side code is out of its sight; the
// reset's own check catches what that leaves (see resetSQL).
func containsFold(s []byte, word string) bool {
	first := word[0]
	for i := 0; i+len(word) <= len(s); i++ {
		if lowerASCII(s[i]) != first || (i > 0 && isIdentByte(s[i-1])) {
			continue
		}
		j := 1
		for j < len(word) && lowerASCII(s[i+j]) == word[j] {
			j++
		}
		if j == len(word) && (i+j == len(s) || !isIdentByte(s[i+j])) {
			return true
		}
	}
	return false
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
