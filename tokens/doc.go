// Package tokens describes who a connection is opened as: identities, the pool
// keys derived from them, and the access tokens they mint.
//
// A pool key is a server key and an identity discriminator joined by NUL, so no
// two identities can ever map to the same pool. A discriminator is computed
// without a token whenever the identity allows it (managed identities, service
// principals, accounts with an AuthenticationRecord), so that a pool hit never
// costs a token. Raw tokens never appear in a key, a String method, an error or
// a log value: Token formats itself redacted.
//
// This package holds no mutex: the little state an identity caches (a resolved
// key, an authentication record) sits behind atomics, and everything else
// belongs to the pool actor that uses the identity.
package tokens
