package manager

import (
	"context"
	"testing"

	"github.com/XSAM/otelsql"
	"github.com/idpool/idpool/tokens"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// TestWithOtelsqlStatementSpansAndPoolSpansShareTheRequestTrace: otelsql
// wrapped around the facade's Connector traces statements; idpool traces
// the acquire (and its dial) inside otelsql's connect span. One request, one
// trace, no span detached. docs/OPERATIONS.md shows the set-up.
func TestWithOtelsqlStatementSpansAndPoolSpansShareTheRequestTrace(t *testing.T) {
	tp, sr := newTracer(t)
	m, _ := newManager(t, Config{TracerProvider: tp})
	db := otelsql.OpenDB(NewConnector(m), otelsql.WithTracerProvider(tp),
		otelsql.WithAttributes(semconv.DBSystemNameOtherSQL))
	defer db.Close()

	ctx, request := tp.Tracer("app").Start(tokens.WithIdentity(context.Background(), identity("alice")), "request")
	var n int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT 1").Scan(&n))
	request.End()

	spans := sr.Ended()
	byID := map[string]string{}
	for _, s := range spans {
		assert.Equal(t, request.SpanContext().TraceID(), s.SpanContext().TraceID(), "%s is in the request's trace", s.Name())
		byID[s.SpanContext().SpanID().String()] = s.Name()
	}
	acq := spansNamed(sr, spanAcquire)
	require.Len(t, acq, 1)
	assert.Contains(t, byID[acq[0].Parent().SpanID().String()], "connect", "the acquire runs inside otelsql's connect span")
	require.Len(t, spansNamed(sr, spanConnect), 1)
	var statement bool
	for _, s := range spans {
		statement = statement || s.Name() == "sql.conn.query" || s.Name() == "sql.rows"
	}
	assert.True(t, statement, "otelsql traced the statement: %v", byID)
}
