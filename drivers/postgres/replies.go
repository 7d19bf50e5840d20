package postgres

import (
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
)

// replyFilter follows the frames of the server's byte stream (a type byte
// and a big-endian int32 length that counts itself, then the body), which
// may be split across reads at any byte, and takes the replies to a
// piggybacked session reset out of it before pgx sees them.
//
// While a reset is owed, every frame up to and including its ReadyForQuery
// ('Z') is the reset's, or an asynchronous message sent before it: they are
// dropped (the reset's results, NoticeResponse, and NotificationResponse for
// the LISTENs the reset ends), except ParameterStatus ('S'), which reaches
// pgx so that its view of the session's reported settings follows what the
// reset restored. An ErrorResponse ('E') among them fails the filter: the
// session was not reset, so nothing after it may reach pgx.
//
// It also records what the release decision needs: whether pgx was handed
// a ParameterStatus after the login, and whether a frame reached pgx after
// the last ReadyForQuery (an asynchronous message pgx has read but not
// parsed yet, which a deferred reset would leave to the next lease).
type replyFilter struct {
	owed int // ReadyForQuery messages of the reset still to come

	hdr  [5]byte // the current frame's header bytes seen so far
	hdrN int
	body int    // body bytes of the current frame still to come
	keep bool   // the current frame goes to pgx
	errB []byte // the body of a reset's ErrorResponse or ReadyForQuery

	loggedIn   bool // the login's ReadyForQuery has passed
	sawParam   bool // a ParameterStatus reached pgx after the login
	afterReady bool // the last frame that reached pgx was a whole ReadyForQuery
	readies    int  // ReadyForQuery messages that reached pgx (see requestWatch.requests)
	// pastReady counts the bytes handed to pgx since the end of the last
	// ReadyForQuery that reached it: pgx's read buffer holding more than
	// that holds a reply it has not parsed (see sessionConn.owesReplies).
	pastReady int

	failed error
}

// maxResetErrorBody bounds how much of a failed reset's ErrorResponse is kept
// for the error message.
const maxResetErrorBody = 1024

// errMalformedFrame is returned for a frame whose length field is below its
// own size: the stream cannot be followed past it.
var errMalformedFrame = errors.New("postgres: malformed message frame from the server (length below 4)")

// filter removes the reset's frames from p in place and returns how many
// bytes at the start of p are for pgx. After an error the filter stays
// failed and the connection must be closed.
func (f *replyFilter) filter(p []byte) (int, error) {
	if f.failed != nil {
		return 0, f.failed
	}
	w := 0
	for i := 0; i < len(p); {
		if f.hdrN < 5 {
			b := p[i]
			if f.hdrN == 0 {
				f.startFrame(b)
			}
			f.hdr[f.hdrN] = b
			f.hdrN++
			if f.keep {
				p[w] = b
				w++
				f.pastReady++
			}
			i++
			if f.hdrN == 5 {
				n := int32(binary.BigEndian.Uint32(f.hdr[1:5]))
				if n < 4 {
					f.failed = errMalformedFrame
					return 0, f.failed
				}
				f.body = int(n) - 4
				if f.body == 0 {
					f.endFrame()
					if f.failed != nil {
						// A reset's ErrorResponse with no fields: nothing
						// after it, in this read or a later one, reaches pgx.
						return 0, f.failed
					}
				}
			}
			continue
		}
		k := min(f.body, len(p)-i)
		switch {
		case f.keep:
			if w != i {
				copy(p[w:], p[i:i+k])
			}
			w += k
			f.pastReady += k
		case (f.hdr[0] == 'E' || f.hdr[0] == 'Z') && len(f.errB) < maxResetErrorBody:
			f.errB = append(f.errB, p[i:i+min(k, maxResetErrorBody-len(f.errB))]...)
		}
		i += k
		f.body -= k
		if f.body == 0 {
			f.endFrame()
		}
		if f.failed != nil {
			return 0, f.failed
		}
	}
	return w, nil
}

// startFrame decides the fate of the frame whose type byte is typ.
func (f *replyFilter) startFrame(typ byte) {
	f.keep = f.owed == 0 || typ == 'S'
	if f.keep {
		f.afterReady = false
	}
	if !f.keep && (typ == 'E' || typ == 'Z') {
		f.errB = f.errB[:0]
	}
}

// endFrame acts on a frame whose last byte has just gone by.
func (f *replyFilter) endFrame() {
	typ := f.hdr[0]
	f.hdrN = 0
	if f.keep {
		switch typ {
		case 'Z':
			f.afterReady = true
			f.loggedIn = true
			f.readies++
			f.pastReady = 0
		case 'S':
			f.sawParam = f.sawParam || f.loggedIn
		}
		return
	}
	switch typ {
	case 'E':
		f.failed = resetFailed(f.errB)
	case 'Z':
		f.owed--
		if len(f.errB) != 1 || f.errB[0] != 'I' {
			f.failed = &resetError{Severity: "ERROR", Code: "?????",
				Message: fmt.Sprintf("the server reported transaction status %q after it, not idle", f.errB[:min(len(f.errB), 4)])}
		}
	}
}

// atBoundary reports whether the stream is between frames.
func (f *replyFilter) atBoundary() bool { return f.hdrN == 0 }

// resetError is the error of a session reset the server refused, or that
// the connection ended during. The session was not reset, so the connection
// is closed; Fatal says that the server ended the session (it runs the reset
// with exit_on_error on), so nothing sent after the reset ran.
type resetError struct {
	Severity, Code, Message string
}

func (e *resetError) Error() string {
	outcome := "the call may have run on the session that was not reset"
	if e.Fatal() {
		outcome = "the server ended the session, so the call did not run"
	}
	return fmt.Sprintf("postgres: the session reset before this call failed (%s: %s, SQLSTATE %s); %s; the connection is closed", e.Severity, e.Message, e.Code, outcome)
}

// Fatal reports whether the server ended the session on the failure.
func (e *resetError) Fatal() bool { return e.Severity == "FATAL" || e.Severity == "PANIC" }

// Is makes a fatal reset driver.ErrBadConn: the server ended the session
// before it read the request behind the reset (exit_on_error), so the call
// did not run and database/sql may run it again on another connection, as
// driver.ErrBadConn's contract asks. A reset that failed with an ordinary
// error is not: the request behind it may have run (see the package doc).
func (e *resetError) Is(target error) bool { return target == driver.ErrBadConn && e.Fatal() }

// resetFailed builds the error for an ErrorResponse body (fields of a code
// byte and a NUL-terminated string, ended by a NUL).
func resetFailed(body []byte) error {
	e := &resetError{Severity: "ERROR", Code: "?????", Message: "(no message)"}
	for len(body) > 1 {
		code := body[0]
		end := 1
		for end < len(body) && body[end] != 0 {
			end++
		}
		v := string(body[1:end])
		switch code {
		case 'V':
			e.Severity = v
		case 'C':
			e.Code = v
		case 'M':
			e.Message = v
		}
		if end >= len(body) {
			break
		}
		body = body[end+1:]
	}
	return e
}
