// Package pgtest starts throwaway PostgreSQL servers for tests, from the
// PostgreSQL 15 binaries installed on the machine (.ci/install-postgres.sh
// installs them). It looks in PGTEST_BINDIR, /usr/lib/postgresql/15/bin,
// `pg_config --bindir` and PATH, in that order.
//
// Each server lives in its own temporary directory, listens on a free port on
// 127.0.0.1 only (its unix socket sits in that directory), asks every TCP
// client for a SCRAM-SHA-256 password, runs with fsync off, and logs every
// connection to a log file, so tests can count server-side logins per role.
//
// Two ways to use it:
//
//   - Start(t) gives a test its own server, stopped and removed by t.Cleanup,
//     even when the test fails (the server log is printed then).
//
//   - Shared(t) gives every test of a package one server, started on first
//     use. Its roles and data outlive each test, so tests should use unique
//     role names (NewRole makes them). The package's TestMain must wrap its
//     run with Main so the shared server is stopped at the end:
//
//     func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.Main(m)) }
//
// When the binaries are missing, Start and Shared skip the test with a hint on
// how to install them, unless IDPOOL_REQUIRE_PG=1 is set (as in CI), in which
// case the test fails instead.
//
// PostgreSQL refuses to run as root: when the test runs as root, the server
// runs as the "postgres" OS user, which must exist (the Debian package makes
// it). A test binary killed before its cleanups ran (a -timeout panic, say)
// leaves its server running; the next Launch on the machine stops and removes
// servers whose owning process is gone.
package pgtest
