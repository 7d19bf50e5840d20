// Package e2e holds idpool's end-to-end tests: the real actor system and the
// database/sql facade, driving the real drivers (go-mssqldb against the
// simulated SQL Server in sim/tds, pgx against a throwaway PostgreSQL) with
// tokens from the real azidentity credentials against sim/entra.
//
// The PostgreSQL tests need the PostgreSQL 15 binaries (Debian package
// postgresql-15). Without them they skip locally and fail when
// IDPOOL_REQUIRE_PG=1, as .ci/run sets.
package e2e
