package actors

import (
	"fmt"
	"log/slog"
)

// String names the pool (its key redacted) and its sizes. A Pool holds the
// tokens its connections logged in with, in fields fmt would print raw (%v
// of a *Pool prints every field of the struct it points to, unexported ones
// too, without their own redacting methods), so every way of printing a
// Pool goes through this form.
func (p *Pool) String() string {
	if p == nil {
		return "actors.Pool(nil)"
	}
	return fmt.Sprintf("actors.Pool(%s: %d open, %d idle, %d busy, %d waiting)",
		p.cfg.Key.Redacted(), len(p.conns), len(p.idle), p.busy, p.waiters.live)
}

// GoString keeps %#v to the redacted form.
func (p *Pool) GoString() string { return p.String() }

// Format prints the redacted form for every verb.
func (p *Pool) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(p.String())) }

// LogValue implements slog.LogValuer with the redacted form.
func (p *Pool) LogValue() slog.Value { return slog.StringValue(p.String()) }
