package memdb

import (
	"errors"
	"time"
)

// ErrTokenExpired is the error of a login, or of any call on a conn, made
// after the conn's token expired while EnforceTokenExpiry is on: the server
// refuses the session, as Azure SQL does with error 37396. The conn is then
// dead.
var ErrTokenExpired = errors.New("memdb: the login token has expired")

// EnforceTokenExpiry makes the DB hold conns to their token's expiry, read
// from the DB's clock: a dial with an expired token fails, and a call on a
// conn whose token has expired fails with ErrTokenExpired and kills it. Conns
// without a token, or whose token's expiry is unknown, are exempt. The pool
// retires conns before their token expires, so under it ExpiredUses stays 0.
func (db *DB) EnforceTokenExpiry(on bool) { db.enforceExpiry.Store(on) }

// ExpiredUses counts calls refused because the conn's token had expired.
func (db *DB) ExpiredUses() int { return int(db.expiredUses.Load()) }

// tokenExpired reports whether a token expiring at exp is past it, when
// expiry is enforced.
func (db *DB) tokenExpired(exp time.Time) bool {
	return db.enforceExpiry.Load() && !exp.IsZero() && !db.now().Before(exp)
}
