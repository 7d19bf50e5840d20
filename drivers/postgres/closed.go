package postgres

import (
	"database/sql/driver"

	"github.com/jackc/pgx/v5/stdlib"
)

// IsClosed reports whether c is a pgx connection that is closed: by Close,
// or by pgx itself after a fatal error. The first operation on a session the
// server killed fails with that server error (a *pgconn.PgError, SQLSTATE
// 57P01), not driver.ErrBadConn, so a pool deciding whether to keep a
// connection after an error should ask this. Other connections report false.
func IsClosed(c driver.Conn) bool {
	sc, ok := c.(*stdlib.Conn)
	return ok && sc.Conn().IsClosed()
}
