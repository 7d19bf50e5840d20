// Package safelog contains the panics of a user's slog.Handler. idpool logs
// from inside its actors and from the recover of a panicking hook, where a
// handler's panic would unwind an actor in the middle of a step (losing the
// message it was handling, so a caller waits for an answer that never
// comes) or escape a deferred recover and end the process. A log line is
// never worth that: a handler that panics loses the record, nothing else.
package safelog

import (
	"context"
	"log/slog"
)

// Wrap returns a logger that writes through l's handler with every call to
// it under recover, or nil for a nil l (idpool then logs nothing). A record
// whose handling panics is dropped; Handle reports it as an error, which
// slog ignores.
func Wrap(l *slog.Logger) *slog.Logger {
	if l == nil {
		return nil
	}
	if _, ok := l.Handler().(handler); ok {
		return l
	}
	return slog.New(handler{l.Handler()})
}

// handler is a slog.Handler whose every method recovers the panics of the
// handler it wraps.
type handler struct{ next slog.Handler }

// errPanicked is what Handle returns for a record the wrapped handler
// panicked on. It names no value of the panic, which could hold anything.
type errPanicked struct{}

func (errPanicked) Error() string { return "idpool: the slog handler panicked; the record was dropped" }

// Enabled reports the wrapped handler's answer, or false when it panics:
// records at that level are then not built at all.
func (h handler) Enabled(ctx context.Context, level slog.Level) (on bool) {
	defer func() {
		if recover() != nil {
			on = false
		}
	}()
	return h.next.Enabled(ctx, level)
}

// Handle passes r on, and drops it if the wrapped handler panics.
func (h handler) Handle(ctx context.Context, r slog.Record) (err error) {
	defer func() {
		if recover() != nil {
			err = errPanicked{}
		}
	}()
	return h.next.Handle(ctx, r)
}

// WithAttrs wraps the wrapped handler's WithAttrs; if that panics, the
// attributes are dropped and records go to the handler without them.
func (h handler) WithAttrs(attrs []slog.Attr) (out slog.Handler) {
	defer func() {
		if recover() != nil {
			out = h
		}
	}()
	return handler{h.next.WithAttrs(attrs)}
}

// WithGroup wraps the wrapped handler's WithGroup; if that panics, records
// go to the handler without the group.
func (h handler) WithGroup(name string) (out slog.Handler) {
	defer func() {
		if recover() != nil {
			out = h
		}
	}()
	return handler{h.next.WithGroup(name)}
}
