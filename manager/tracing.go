package manager

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/idpool/idpool/actors"
	"github.com/idpool/idpool/tokens"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Span names and idpool's own span attributes. The database attributes
// follow the OpenTelemetry semantic conventions (db.system.name,
// db.namespace, server.address, server.port,
// db.client.connection.pool.name, error.type).
const (
	spanAcquire = "idpool.acquire"
	spanConnect = "idpool.connect"
	spanMint    = "idpool.token.mint"

	attrOutcome = "idpool.acquire.outcome"
	attrQueued  = "idpool.acquire.queued_seconds"
	attrConnID  = "idpool.connection.id"

	semconvSchema = semconv.SchemaURL
)

// DBSystemNamer is implemented by Dialers that know which database they
// dial (drivers/sqlserver and drivers/postgres do): the answer is the
// db.system.name of the spans ("microsoft.sql_server", "postgresql").
// Otherwise spans say "other_sql".
type DBSystemNamer interface {
	DBSystemName() string
}

// tracing starts idpool's spans; nil when Config.TracerProvider is unset,
// and then nothing is started and nothing allocated.
type tracing struct {
	tracer trace.Tracer
	// server holds the attributes every span has: the database system and
	// where it is, parsed from Config.Server. Never a DSN: Config.Server
	// holds none (New refuses one).
	server []attribute.KeyValue
}

func newTracing(cfg Config) *tracing {
	if cfg.TracerProvider == nil {
		return nil
	}
	return &tracing{
		tracer: cfg.TracerProvider.Tracer(meterName, trace.WithInstrumentationVersion(moduleVersion()),
			trace.WithSchemaURL(semconvSchema)),
		server: serverAttrs(cfg.Server, dbSystem(cfg.Dialer)),
	}
}

func dbSystem(d Dialer) attribute.KeyValue {
	if n, ok := d.(DBSystemNamer); ok && n.DBSystemName() != "" {
		return semconv.DBSystemNameKey.String(n.DBSystemName())
	}
	return semconv.DBSystemNameOtherSQL
}

// serverAttrs splits a server key, "host:port/database", into the
// conventions' attributes; what does not parse is left out.
func serverAttrs(server string, system attribute.KeyValue) []attribute.KeyValue {
	attrs := []attribute.KeyValue{system}
	hostPort, db, hasDB := strings.Cut(server, "/")
	if host, port, err := net.SplitHostPort(hostPort); err == nil {
		attrs = append(attrs, semconv.ServerAddress(host))
		if p, err := strconv.Atoi(port); err == nil {
			attrs = append(attrs, semconv.ServerPort(p))
		}
	} else if hostPort != "" {
		attrs = append(attrs, semconv.ServerAddress(hostPort))
	}
	if hasDB && db != "" {
		attrs = append(attrs, semconv.DBNamespace(db))
	}
	return attrs
}

// The user's TracerProvider (and MeterProvider) is called where a panic of
// it would cost more than its telemetry: in the caller's goroutine with a
// lease granted (the lease would be lost with its slot), in a dial's
// goroutine with a connection open (lost, still logged in), in a mint's
// goroutine outside any recover (the process would end). So every call
// into it is under recover, and a panic loses the span or the record,
// nothing else (as a panicking Logger loses its record; see safelog).

// noSpan stands in for a span the tracer panicked on starting.
var noSpan = trace.SpanFromContext(context.Background())

// dropPanic, deferred, drops the panic of a call into the user's
// TracerProvider or MeterProvider.
func dropPanic() { _ = recover() }

// startAcquire starts the span of one Acquire; its ctx is what the acquire
// passes on (to the pool, and from there to the dial or mint it causes). A
// tracer that panics leaves the acquire untraced.
func (t *tracing) startAcquire(ctx context.Context, id tokens.Identity) (out context.Context, span trace.Span) {
	defer func() {
		if recover() != nil {
			out, span = ctx, noSpan
		}
	}()
	return t.tracer.Start(ctx, spanAcquire, trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(t.server...), trace.WithAttributes(attribute.String(attrIdentityKind, id.Kind().String())))
}

// startWork starts the span of a dial or mint, or returns noSpan and ctx
// itself if the tracer panics.
func (t *tracing) startWork(ctx context.Context, name string, key tokens.Key, kind tokens.Kind) (out context.Context, span trace.Span) {
	defer func() {
		if recover() != nil {
			out, span = ctx, noSpan
		}
	}()
	return t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), t.workAttrs(key, kind))
}

// endAcquire ends the span of an Acquire with its outcome, its pool and how
// long it queued in the pool (its duration is the whole wait).
func (t *tracing) endAcquire(ctx context.Context, span trace.Span, m *Manager, id tokens.Identity, l *Lease, queued time.Duration, err error) {
	defer dropPanic()
	if l != nil {
		span.SetAttributes(semconv.DBClientConnectionPoolName(l.Key().Redacted()), attribute.String(attrOutcome, "granted"),
			attribute.Float64(attrQueued, queued.Seconds()), attribute.Int64(attrConnID, int64(l.release.ConnID)))
	} else {
		// Never a mint here: for a token-keyed identity whose key lookup
		// failed that would be a second mint, under a ctx that may never
		// end. Without a key the span names no pool.
		if id.KeyResolved() {
			if disc, derr := id.Discriminator(ctx); derr == nil {
				span.SetAttributes(semconv.DBClientConnectionPoolName(tokens.NewKey(m.cfg.Server, disc).Redacted()))
			}
		}
		class := acquireErrorClass(err)
		span.SetAttributes(attribute.String(attrOutcome, class), semconv.ErrorTypeKey.String(class))
		span.SetStatus(codes.Error, class)
	}
	span.End()
}

// acquireErrorClass names why an acquire failed, in a word: the span's
// outcome and error.type. The error's text stays out of spans (a driver's
// login error may quote more than it should); the log line of the failure
// carries it, under the same trace.
func acquireErrorClass(err error) string {
	var te *TimeoutError
	var be *BlockedError
	var de *DialError
	var he *HookError
	switch {
	case errors.As(err, &te) && te.Canceled, errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.As(err, &te), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, ErrPoolExhausted):
		return "exhausted"
	case errors.As(err, &be):
		return "blocked"
	case errors.As(err, &de) && de.Mint:
		return "mint_failed"
	case errors.As(err, &de):
		return "dial_failed"
	case errors.Is(err, ErrClosed):
		return "closed"
	case errors.As(err, &he):
		return "hook_failed"
	case errors.Is(err, tokens.ErrInvalidIdentity):
		return "invalid_identity"
	}
	var ee *actors.TokenExpiryError
	if errors.As(err, &ee) {
		return "token_expiring"
	}
	return semconv.ErrorTypeOther.Value.AsString()
}

// workErrorClass names why a dial or mint failed, for error.type: a
// timeout, a cancellation, a hook, or the error's Go type (never its text).
func workErrorClass(err error) string {
	var he *HookError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.As(err, &he):
		return "hook_failed"
	}
	return errorTypeName(err)
}

// errorTypeName is the Go type of the innermost error err wraps (following
// Unwrap() error), e.g. "syscall.Errno" for a refused TCP connect, under its
// *net.OpError and *os.SyscallError.
func errorTypeName(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			break
		}
		err = next
	}
	return typeName(err)
}

// endWork ends a dial or mint span.
func endWork(span trace.Span, err error) {
	defer dropPanic()
	if err != nil {
		class := workErrorClass(err)
		span.SetAttributes(semconv.ErrorTypeKey.String(class))
		span.SetStatus(codes.Error, class)
	}
	span.End()
}

// workAttrs are the attributes of a dial or mint span of the pool of key.
func (t *tracing) workAttrs(key tokens.Key, kind tokens.Kind) trace.SpanStartOption {
	return trace.WithAttributes(append(t.server[:len(t.server):len(t.server)],
		semconv.DBClientConnectionPoolName(key.Redacted()), attribute.String(attrIdentityKind, kind.String()))...)
}
