// Package postgres dials PostgreSQL for idpool with pgx (github.com/jackc/pgx/v5),
// handing back pgx's database/sql driver connections (*stdlib.Conn), so the
// pool's database/sql facade uses them unchanged.
//
// Azure Database for PostgreSQL takes an Entra ID access token as the login
// password, and the login name is the Entra principal's name: the Dialer logs
// a token identity in with the token it is given as the password (it never
// mints one itself), as the user WithUser maps the identity to. A SQL-login
// identity uses the DSN's own user and password.
//
// Errors never carry the password or token: the dialer's errors keep pgx's
// message (which names the user and database) and its cause chain, less
// pgconn.ConnectError, whose Config field holds the password.
package postgres
