// Package integration tests idpool's *sql.DB facade under the libraries Go
// services use with it, each with its defaults: GORM (gorm.io/gorm with its
// sqlserver and postgres drivers), sqlx, and sqlc-style generated code with
// prepared queries, against sim/tds and a real PostgreSQL (internal/pgtest).
//
// The package has no code outside its tests, so GORM, sqlx and their
// dependencies are needed only to run them, never to build idpool.
package integration
