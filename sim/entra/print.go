package entra

import (
	"fmt"
	"log/slog"
)

// String names the server by its authority's address and nothing else.
// fmt printed a *Server's fields with %v, %+v and %#v: the managed-identity
// header, and, through its state, the access tokens kept for SetReuse, the
// live refresh tokens and the pending device codes (map keys), read without
// the lock the handlers write them under.
func (s *Server) String() string {
	if s == nil || s.authority == nil {
		return "entra.Server(none)"
	}
	return "entra.Server(" + s.authority.URL + ")"
}

// GoString keeps %#v as safe as %v.
func (s *Server) GoString() string { return s.String() }

// Format prints the String form for every verb.
func (s *Server) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// LogValue implements slog.LogValuer with the String form.
func (s *Server) LogValue() slog.Value { return slog.StringValue(s.String()) }
