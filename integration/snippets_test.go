package integration

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/XSAM/otelsql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/idpool/idpool/drivers/postgres"
	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/fleet"
	"github.com/idpool/idpool/idpoolhttp"
	"github.com/idpool/idpool/manager"
	"github.com/idpool/idpool/onbehalf"
	"github.com/idpool/idpool/tokens"
)

//lint:file-ignore SA4006 the snippets are the docs' fragments, which leave some errors unread as shown

// The Go fragments of README.md and docs/ that no example runs: each is
// compiled here, between snippet markers, inside a function that declares
// what the fragment takes as given (ctx, a DSN, a secret, ...).
// TestDocSnippetsCompile checks that the docs show them as written here,
// with `if err != nil { ... }` standing for a return of err. None of these
// functions runs: they need a real Azure SQL, PostgreSQL, etcd or Entra ID.

func snippetFacade(ctx context.Context, secret string) error {
	// snippet:facade:begin
	db, err := sqlserver.OpenDB("sqlserver://myserver.database.windows.net?database=appdb",
		manager.Config{MaxSize: 10}) // MaxSize is per identity
	if err != nil {
		return err
	}
	defer db.Close()

	// Build each identity once (its credential caches tokens) and reuse it.
	orders, _ := tokens.UserAssignedIdentity(azidentity.ClientID("<client id>"), nil)
	billing, _ := tokens.ClientSecretIdentity("<tenant>", "<client id>", secret, nil)

	var who string
	err = db.QueryRowContext(tokens.WithIdentity(ctx, orders), "SELECT SUSER_SNAME()").Scan(&who)

	tx, err := db.BeginTx(tokens.WithIdentity(ctx, billing), nil) // holds billing's lease until Commit/Rollback
	// snippet:facade:end
	_ = tx
	return err
}

// jwtClaims and verifyJWT stand for the application's own token checks.
type jwtClaims struct{ TenantID, ObjectID string }

func verifyJWT(string) (jwtClaims, error) { return jwtClaims{}, nil }

func snippetOnBehalfOf(db *manager.DB, tenantID, apiClientID, apiSecret, addr string) {
	// snippet:obo:begin
	app, err := tokens.NewOnBehalfOfSecret(tenantID, apiClientID, apiSecret, nil) // or ...Certificate, ...Assertion
	users, err := onbehalf.NewCache(app, 10_000)                                  // per user: the newest token and its credential

	validate := func(r *http.Request, bearer string) (tokens.Principal, error) {
		claims, err := verifyJWT(bearer) // yours: signature, issuer, audience (this API), expiry
		if err != nil {
			return tokens.Principal{}, err // 401, and nothing touches the database
		}
		return tokens.Principal{TenantID: claims.TenantID, ObjectID: claims.ObjectID}, nil
	}
	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var who string
		if err := db.QueryRowContext(r.Context(), "SELECT SUSER_SNAME()").Scan(&who); err != nil { // runs as the caller
			if idpoolhttp.AnswerClaimsChallenge(w, err) {
				return // 401: conditional access wants more of the user (MFA); their client signs in again
			}
			http.Error(w, "query failed", http.StatusBadGateway)
			return
		}
		fmt.Fprint(w, who)
	})
	// Every timeout set: net/http has none, and a client could hold a connection for good.
	srv := &http.Server{Addr: addr, Handler: idpoolhttp.Middleware(users, validate, whoami),
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	srv.ListenAndServe()
	// snippet:obo:end
	_ = err
}

func snippetPostgres(ctx context.Context) error {
	var who string
	// snippet:postgres:begin
	orders, err := tokens.UserAssignedIdentity(azidentity.ClientID("<client id>"), nil,
		tokens.WithScope(tokens.ScopePostgreSQL))
	if err != nil {
		return err
	}
	db, err := postgres.OpenDB(
		"postgres://myserver.postgres.database.azure.com/appdb?sslmode=verify-full&pool_max_conns=10",
		manager.Config{}, postgres.WithLoginUser("orders-api"))
	if err != nil {
		return err
	}
	defer db.Close()
	err = db.QueryRowContext(tokens.WithIdentity(ctx, orders), "SELECT current_user").Scan(&who)
	// snippet:postgres:end
	return err
}

func snippetWithoutSessionReset(dsn string) {
	// snippet:noreset:begin
	db, err := postgres.OpenDB(dsn, manager.Config{}, postgres.WithLoginUser("orders-api"),
		postgres.WithoutSessionReset())
	// snippet:noreset:end
	_, _ = db, err
}

func snippetFleet(ctx context.Context, d manager.Dialer) {
	// snippet:fleet:begin
	cli, _ := clientv3.New(clientv3.Config{Endpoints: []string{"etcd1:2379", "etcd2:2379", "etcd3:2379"}})
	budget, err := fleet.New(fleet.Config{Client: cli, Prefix: "/idpool/sql1/", Cap: 90, TTL: 10 * time.Second})
	m, err := manager.New(manager.Config{Server: "sql1:1433/appdb", Dialer: d, MaxTotal: 40, Fleet: budget})
	// ... at shutdown: m.Close(ctx), then budget.Close(ctx) (revokes the lease: the
	// fleet gets every permit back at once), then cli.Close().
	// snippet:fleet:end
	_, _ = m, err
}

func snippetOtelsql(ctx context.Context, key string, dialer manager.Dialer, tp trace.TracerProvider, alice tokens.Identity) {
	// snippet:otelsql:begin
	m, _ := manager.New(manager.Config{Server: key, Dialer: dialer, TracerProvider: tp})
	db := otelsql.OpenDB(manager.NewConnector(m), otelsql.WithTracerProvider(tp),
		otelsql.WithAttributes(semconv.DBSystemNameMicrosoftSQLServer))
	db.SetMaxIdleConns(0) // as manager.OpenDB does; database/sql's default keeps 2
	rows, err := db.QueryContext(tokens.WithIdentity(ctx, alice), "SELECT ...")
	// snippet:otelsql:end
	_, _ = rows, err
}

// Keep the snippet functions referenced: they are compiled, never run.
var _ = []any{snippetFacade, snippetOnBehalfOf, snippetPostgres, snippetWithoutSessionReset, snippetFleet, snippetOtelsql}

// TestDocSnippetsCompile checks that each Go fragment of the docs is one of
// the snippets above, which this package compiles: a fragment that no
// longer builds against the current API fails here, not in a reader's
// editor.
func TestDocSnippetsCompile(t *testing.T) {
	src, err := os.ReadFile("snippets_test.go")
	require.NoError(t, err)
	for _, c := range []struct{ doc, name string }{
		{"../README.md", "facade"},
		{"../README.md", "obo"},
		{"../README.md", "postgres"},
		{"../README.md", "noreset"},
		{"../docs/FLEET.md", "fleet"},
		{"../docs/OPERATIONS.md", "otelsql"},
	} {
		doc, err := os.ReadFile(c.doc)
		require.NoError(t, err)
		s := string(src)
		begin, end := "\t// snippet:"+c.name+":begin\n", "\t// snippet:"+c.name+":end"
		i, j := strings.Index(s, begin), strings.Index(s, end)
		require.True(t, i >= 0 && j > i, "markers of %s", c.name)
		want := "```go\n" + asShown(s[i+len(begin):j]) + "```"
		assert.True(t, strings.Contains(string(doc), want),
			"%s does not show the %s snippet of integration/snippets_test.go as compiled there:\n%s", c.doc, c.name, want)
	}
}

// asShown turns a snippet's compiled form into the docs': one indent less,
// and a return of err after `if err != nil` written as `{ ... }`.
func asShown(code string) string {
	code = regexp.MustCompile(`(?m)^\t`).ReplaceAllString(code, "")
	return regexp.MustCompile(`if err != nil \{\n\treturn err\n\}`).ReplaceAllString(code, "if err != nil { ... }")
}
