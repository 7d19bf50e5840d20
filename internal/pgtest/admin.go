package pgtest

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// adminTimeout bounds every admin operation, so a hung server fails the test
// instead of hanging it.
const adminTimeout = 30 * time.Second

// withAdmin runs f on a fresh superuser connection. A connection per call
// keeps the helpers correct across Restart and Stop, and leaves no goroutine
// behind for goleak to find.
func (s *Server) withAdmin(f func(ctx context.Context, c *pgx.Conn) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	c, err := pgx.Connect(ctx, s.AdminDSN())
	if err != nil {
		return fmt.Errorf("pgtest: admin connection: %w", err)
	}
	defer c.Close(context.Background())
	return f(ctx, c)
}

// Exec runs sql as the superuser, failing t on error.
func (s *Server) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	err := s.withAdmin(func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, sql, args...)
		return err
	})
	if err != nil {
		t.Fatalf("pgtest: exec %q: %v", sql, err)
	}
}

// QueryInt runs a query that returns one integer (a count, say) as the
// superuser.
func (s *Server) QueryInt(t testing.TB, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	err := s.withAdmin(func(ctx context.Context, c *pgx.Conn) error {
		return c.QueryRow(ctx, sql, args...).Scan(&n)
	})
	if err != nil {
		t.Fatalf("pgtest: query %q: %v", sql, err)
	}
	return n
}

// CreateRole creates a role that can log in with password.
func (s *Server) CreateRole(t testing.TB, name, password string) {
	t.Helper()
	s.ddl(t, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD %s", quoteIdent(name), quoteLiteral(password)))
}

// NewRole creates a login role with a unique name starting with prefix and a
// random password, and returns both. Use it on a Shared server.
func (s *Server) NewRole(t testing.TB, prefix string) (name, password string) {
	t.Helper()
	name = fmt.Sprintf("%s_%d_%d", prefix, os.Getpid(), s.names.Add(1))
	password = randomHex(12)
	s.CreateRole(t, name, password)
	return name, password
}

// SetPassword changes role's password; sessions already logged in stay.
func (s *Server) SetPassword(t testing.TB, role, password string) {
	t.Helper()
	s.ddl(t, fmt.Sprintf("ALTER ROLE %s PASSWORD %s", quoteIdent(role), quoteLiteral(password)))
}

// CreateDatabase creates a database owned by owner. The owner may create
// tables in its public schema, which PostgreSQL 15 no longer grants to every
// role in the postgres database.
func (s *Server) CreateDatabase(t testing.TB, name, owner string) {
	t.Helper()
	s.ddl(t, fmt.Sprintf("CREATE DATABASE %s OWNER %s", quoteIdent(name), quoteIdent(owner)))
}

// ddl runs a statement that cannot take parameters. Its error is reported
// without the statement, which may hold a password.
func (s *Server) ddl(t testing.TB, stmt string) {
	t.Helper()
	err := s.withAdmin(func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, stmt)
		return err
	})
	if err != nil {
		verb, _, _ := strings.Cut(stmt, " PASSWORD ")
		t.Fatalf("pgtest: %s: %v", verb, err)
	}
}

// Terminate ends every session of role, except the connection it uses itself
// (which matters when role is the superuser), waits for those backends to
// exit, and returns how many it ended.
func (s *Server) Terminate(t testing.TB, role string) int {
	t.Helper()
	// pg_terminate_backend with a timeout (PostgreSQL 14+) returns only once
	// the backend has gone, so the count is settled when this returns.
	return int(s.QueryInt(t, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000))
		FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()`, role))
}

// Backends counts the sessions of role (other than the query's own). A
// client's Close returns before its backend exits, so poll (require.Eventually)
// when waiting for a count to drop.
func (s *Server) Backends(t testing.TB, role string) int {
	t.Helper()
	return int(s.QueryInt(t, `SELECT count(*) FROM pg_stat_activity
		WHERE usename = $1 AND pid <> pg_backend_pid()`, role))
}

// Logins counts the successful logins of role recorded in the server log
// (log_connections, on by default). A backend logs its login before it tells
// the client it is ready, so a login a client has seen is already counted.
func (s *Server) Logins(t testing.TB, role string) int {
	t.Helper()
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		t.Fatalf("pgtest: reading the server log: %v", err)
	}
	return countLogins(string(b), role)
}

// countLogins counts "connection authorized: user=<role> database=" lines.
func countLogins(log, role string) int {
	re := regexp.MustCompile(`(?m)connection authorized: user=` + regexp.QuoteMeta(role) + ` database=`)
	return len(re.FindAllStringIndex(log, -1))
}

func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }

// quoteLiteral quotes a string for standard_conforming_strings=on (the
// default): only single quotes need doubling.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
