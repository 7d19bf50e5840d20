package manager

import (
	"context"
	"database/sql/driver"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/messages"
	"github.com/idpool/idpool/tokens"

	"go.opentelemetry.io/otel/trace"
)

// observedDialer wraps every dial (BeforeConnect and AfterConnect included)
// in an idpool.connect span and the create_time metric. Neither may panic
// (startWork, endWork, metrics): a panic after the dial would lose the
// connection it opened, still logged in at the server. The span is a child
// of the acquire that caused the dial, if any: the dial's ctx carries that
// acquire's values, which the Dialer and the hooks see too.
type observedDialer struct {
	next Dialer
	m    *Manager
}

func (d observedDialer) Dial(ctx context.Context, req DialRequest) (driver.Conn, error) {
	var span trace.Span
	if t := d.m.tracing; t != nil {
		ctx, span = t.startWork(ctx, spanConnect, req.Key, req.Identity.Kind())
	}
	start := time.Now()
	conn, err := d.next.Dial(ctx, req)
	if err == nil {
		d.m.metrics.dialed(d.m, req, time.Since(start))
	}
	if span != nil {
		endWork(span, err)
	}
	return conn, err
}

// CloseConn closes a connection the wrapped Dialer opened as that Dialer
// would have it closed (a ConnCloser's CloseConn), since the pools see only
// the wrapper.
func (d observedDialer) CloseConn(conn driver.Conn) error { return actors.CloseDialed(d.next, conn) }

// observedMint runs a token mint in an idpool.token.mint span (a child of
// the acquire that caused it, if any) and records its duration. src never
// panics (the pool wraps it), and neither do the span and the metric
// (startWork, endWork, metrics): this runs in the mint's goroutine, outside
// the pool's recover, where a panic of the user's TracerProvider or
// MeterProvider would end the process.
func (m *Manager) observedMint(ctx context.Context, key tokens.Key, src tokens.Source) (tokens.Token, error) {
	var span trace.Span
	if t := m.tracing; t != nil {
		ctx, span = t.startWork(ctx, spanMint, key, tokens.KindOf(key.Discriminator()))
	}
	start := time.Now()
	tok, err := src.Token(ctx)
	if err == nil {
		m.metrics.minted(m, key, time.Since(start))
	}
	if span != nil {
		endWork(span, err)
	}
	return tok, err
}

// moduleVersion is idpool's module version, for the instrumentation scope:
// the version a program that imports idpool was built with; for a build of
// idpool itself, the main module's version: the one the go command stamped
// from version control, or "(devel)".
func moduleVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	if info.Main.Path == meterName && info.Main.Version != "" {
		return info.Main.Version
	}
	for _, dep := range info.Deps {
		if dep.Path == meterName {
			if dep.Replace != nil && dep.Replace.Version != "" {
				return dep.Replace.Version
			}
			return dep.Version
		}
	}
	return "(devel)"
}

// typeName is the Go type of v, e.g. "*net.OpError".
func typeName(v any) string { return fmt.Sprintf("%T", v) }

// ctxOf is the ctx an acquire message carries for its values: log lines it
// causes carry it, so a handler can join them to the request.
func ctxOf(msg *messages.Acquire) context.Context {
	if msg.Ctx != nil {
		return msg.Ctx
	}
	return context.Background()
}
