package tokens

import "context"

type identityKey struct{}

// WithIdentity returns a copy of ctx that carries id. The database/sql facade
// opens (or reuses) a connection for the identity found in each call's ctx.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity carried by ctx, if any.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
