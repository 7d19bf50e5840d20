package tokens

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// keySeparator joins the server key and the identity discriminator. NUL cannot
// occur in a DSN-derived server key nor in a discriminator, so the join is
// unambiguous: ("a", "b\x00c") and ("a\x00b", "c") can never collide.
const keySeparator = "\x00"

// Key identifies one pool: a server and an identity. It holds no secret (no
// token, no password), but it may hold client ids; print Redacted() in errors
// and logs.
type Key string

// NewKey joins a server key and an identity discriminator.
func NewKey(server, discriminator string) Key {
	return Key(server + keySeparator + discriminator)
}

// Server returns the server part of the key.
func (k Key) Server() string {
	server, _, _ := strings.Cut(string(k), keySeparator)
	return server
}

// Discriminator returns the identity part of the key ("" for SQL logins).
func (k Key) Discriminator() string {
	_, disc, _ := strings.Cut(string(k), keySeparator)
	return disc
}

// Redacted returns a printable form that names the server and the identity's
// kind but shows only a short hash of the identity's id, e.g.
// "sql1.example:1433/msi#3fa2c1d0". SQL-login pools print as "server/sql-login".
func (k Key) Redacted() string {
	disc := k.Discriminator()
	if disc == "" {
		return k.Server() + "/sql-login"
	}
	kind, _, _ := strings.Cut(disc, ":")
	sum := sha256.Sum256([]byte(disc))
	return k.Server() + "/" + kind + "#" + hex.EncodeToString(sum[:4])
}

// String implements fmt.Stringer with the redacted form.
func (k Key) String() string { return k.Redacted() }
