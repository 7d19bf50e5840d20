package actors

import (
	"fmt"
	"strings"
)

// A Dialer (or a BeforeConnect hook wrapping it) is handed the token it
// logs in with, and a careless one names it in its error ("login with
// <token> refused"). That error becomes the acquire's, the log line's
// (idpool: dial failed) and, after two failures, every BlockedError's, so
// the pool takes the token out of its text before anything prints it, as
// drivers/postgres does for pgx's errors.

// tokenRedactedError is a Dialer's error whose text held the token, with
// the token replaced. It unwraps to that error, so that errors.Is and
// errors.As still see it (driver.ErrBadConn, the driver's own types):
// what a caller prints of a type it unwrapped to is the caller's.
type tokenRedactedError struct {
	msg string
	err error
}

// Error is the Dialer's text with the token replaced.
func (e *tokenRedactedError) Error() string { return e.msg }

// Unwrap returns the Dialer's error.
func (e *tokenRedactedError) Unwrap() error { return e.err }

// GoString keeps %#v to the redacted text: fmt would print the Dialer's
// error's fields.
func (e *tokenRedactedError) GoString() string { return fmt.Sprintf("%q", e.msg) }

// Format prints the redacted text for every verb (%+v of a wrapped error
// type that prints its cause's details included).
func (e *tokenRedactedError) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(e.GoString()))
		return
	}
	_, _ = f.Write([]byte(e.msg))
}

// redactToken returns err with every occurrence of tok in its text
// replaced, or err itself when the text has none (or there is no token:
// a SQL login).
func redactToken(err error, tok string) error {
	if err == nil || tok == "" {
		return err
	}
	msg := err.Error()
	if !strings.Contains(msg, tok) {
		return err
	}
	return &tokenRedactedError{msg: strings.ReplaceAll(msg, tok, "[REDACTED]"), err: err}
}
