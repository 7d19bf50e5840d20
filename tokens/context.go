package tokens

import "context"

type identityKey struct{}

// WithIdentity returns a copy of ctx that carries id. The database/sql facade
// opens (or reuses) a connection for the identity found in each call's ctx.
//
// A nil ctx panics ("cannot create context from nil parent"), as
// context.WithValue, which it is, does: it returns a context and no error,
// and a copy of nothing carrying id has no meaning, so it keeps the
// standard library's behaviour rather than invent one. Derive from
// context.Background() or context.TODO().
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity carried by ctx, if any.
//
// A nil ctx carries nothing: it returns the zero Identity and false, as a
// ctx without an identity does, rather than panic (it is a lookup). A caller
// that falls back to a default identity on false (the facade) so treats it
// as context.Background(), which grants nothing that ctx would not; the
// Manager's and drivers' calls that go on to use the ctx refuse a nil one
// with ErrNilContext, and database/sql never passes one to the driver.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	if ctx == nil {
		return Identity{}, false
	}
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
