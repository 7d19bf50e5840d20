package actors

import (
	"context"
	"log/slog"
)

// The pool logs what an operator needs to follow it: failures with the
// backoff they caused, token rotations, and evictions (routine ones at debug
// level). Values are the redacted pool key and error texts, which idpool's
// own errors keep free of tokens.

func (a *poolActor) logFailure(msg string, err error) {
	l := a.logger()
	if !l.Enabled(context.Background(), slog.LevelWarn) {
		return
	}
	attrs := []any{"pool", a.cfg.Pool.Key.Redacted(), "err", err, "consecutive_failures", a.sm.dialFailures}
	if !a.sm.blockedUntil.IsZero() {
		attrs = append(attrs, "blocked_until", a.sm.blockedUntil)
	}
	l.Warn(msg, attrs...)
}

func (a *poolActor) logClose(reason CloseReason) {
	level := slog.LevelDebug
	msg := "idpool: connection closed"
	switch reason {
	case ReasonTokenRotated:
		level, msg = slog.LevelInfo, "idpool: token rotated, reopening"
	case ReasonBroken, ReasonFailedHealthCheck, ReasonForced, ReasonTokenExpired:
		level = slog.LevelInfo
	}
	l := a.logger()
	if l.Enabled(context.Background(), level) {
		l.Log(context.Background(), level, msg, "pool", a.cfg.Pool.Key.Redacted(), "reason", reason.String())
	}
}
