// Package tokens describes who a connection is opened as: identities, the pool
// keys derived from them, and the access tokens they mint.
//
// A pool key is a server key and an identity discriminator joined by NUL. Each
// kind of identity owns its own discriminator domain ("sql-login", "msi:…",
// "sp:…", "acct:…", "oid:…", "obo:…", "tok:…", "dac:…"), and ids
// are escaped, so no two identities of different principals can ever map to
// the same pool (see domain.go for the grammar). A key comes from a token's
// claims only for VouchedTokenIdentity, whose principal the application
// verified; any other token is keyed by the hash of the whole token. The zero
// Identity is invalid everywhere (ErrInvalidIdentity); a SQL login is only
// ever SQLLogin(). A discriminator is computed
// without a token whenever the identity allows it (managed identities, service
// principals, accounts with an AuthenticationRecord), so that a pool hit never
// costs a token. Raw tokens never appear in a key, a String method, an error or
// a log value: Token formats itself redacted.
//
// This package holds no mutex: the little state an identity caches (a resolved
// key, an authentication record) sits behind atomics, and everything else
// belongs to the pool actor that uses the identity.
package tokens
