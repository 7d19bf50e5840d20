package postgres

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrNoToken is returned when a token identity is dialed without a token: the
// pool mints tokens, the dialer never does.
var ErrNoToken = errors.New("postgres: a token identity was dialed without a token")

// dialError is a failed dial. Its message is pgx's, with every secret the
// dial knew replaced; it unwraps past pgconn.ConnectError, whose Config holds
// the password, to the cause (a *pgconn.PgError, a net error, a context
// error, ...).
type dialError struct {
	server string
	msg    string
	cause  error
}

func (e *dialError) Error() string { return "postgres: dial " + e.server + ": " + e.msg }
func (e *dialError) Unwrap() error { return e.cause }

// wrapDialErr builds a dialError from a pgx connect error.
func wrapDialErr(server string, err error, secrets ...string) error {
	cause := err
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		cause = ce.Unwrap()
	}
	return &dialError{server: server, msg: redact(err.Error(), secrets...), cause: cause}
}

// redact replaces each non-empty secret in s. pgx's messages are not known
// to quote passwords; this makes sure of it.
func redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[REDACTED]")
		}
	}
	return s
}
