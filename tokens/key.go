package tokens

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// keySeparator joins the server key and the identity discriminator. A
// discriminator never contains NUL (its components are escaped, and New
// refuses one that does), and the key is split at its last NUL, so the join
// is unambiguous whatever the server key holds: ("a", "b\x00c") cannot be
// built and ("a\x00b", "c") splits back exactly.
const keySeparator = "\x00"

// Key identifies one pool: a server and an identity. It holds no secret (no
// token, no password), but it may hold client ids; print Redacted() in errors
// and logs.
type Key string

// NewKey joins a server key and an identity discriminator.
func NewKey(server, discriminator string) Key {
	return Key(server + keySeparator + discriminator)
}

// split returns the server and discriminator parts.
func (k Key) split() (server, disc string) {
	i := strings.LastIndex(string(k), keySeparator)
	if i < 0 {
		return string(k), ""
	}
	return string(k[:i]), string(k[i+1:])
}

// Server returns the server part of the key.
func (k Key) Server() string {
	server, _ := k.split()
	return server
}

// Discriminator returns the identity part of the key ("sql-login" for SQL
// logins).
func (k Key) Discriminator() string {
	_, disc := k.split()
	return disc
}

// Redacted returns a printable form that names the server and the identity's
// domain but shows only a short hash of the identity's id, e.g.
// "sql1.example:1433/msi#3fa2c1d0". SQL-login pools print as "server/sql-login".
func (k Key) Redacted() string {
	server, disc := k.split()
	if disc == "" || disc == discSQLLogin {
		return server + "/sql-login"
	}
	kind, _, _ := strings.Cut(disc, ":")
	sum := sha256.Sum256([]byte(disc))
	return server + "/" + kind + "#" + hex.EncodeToString(sum[:4])
}

// String implements fmt.Stringer with the redacted form.
func (k Key) String() string { return k.Redacted() }
