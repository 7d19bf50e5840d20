package actors

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
)

// The pool logs what an operator needs to follow it: failures with the
// backoff they caused, token rotations, and evictions (routine ones at debug
// level). Values are the redacted pool key and error texts, which idpool's
// own errors keep free of tokens. Lines caused by an acquire carry its ctx
// (see cause.go), so a handler can add its trace and span ids.

func (a *poolActor) logFailure(c actor.Context, msg string, err error) {
	l, ctx := a.logger(), logCtx(c)
	if !l.Enabled(ctx, slog.LevelWarn) {
		return
	}
	attrs := []any{"pool", a.sm.cfg.Key.Redacted(), "err", err, "consecutive_failures", a.sm.dialFailures()}
	if until := a.sm.blockedUntil(); !until.IsZero() {
		attrs = append(attrs, "blocked_until", until)
	}
	l.WarnContext(ctx, msg, attrs...)
}

func (a *poolActor) logClose(c actor.Context, reason CloseReason) {
	level := slog.LevelDebug
	msg := "idpool: connection closed"
	switch reason {
	case ReasonTokenRotated:
		level, msg = slog.LevelInfo, "idpool: token rotated, reopening"
	case ReasonBroken, ReasonFailedHealthCheck, ReasonForced, ReasonTokenExpired:
		level = slog.LevelInfo
	}
	l, ctx := a.logger(), logCtx(c)
	if l.Enabled(ctx, level) {
		l.Log(ctx, level, msg, "pool", a.sm.cfg.Key.Redacted(), "reason", reason.String())
	}
}
