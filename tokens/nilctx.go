package tokens

import "errors"

// ErrNilContext is the error of a call given a nil ctx. Here:
// Identity.Discriminator, ResolveKey and ResolveKeyChecked, Account's
// Identity, Authenticate and Token, and the Token of every Source this
// package makes (an Identity's Source(), CredentialSource, SourceFunc),
// which refuse one first, before a key lookup is begun or a sign-in or
// token request made, with an error that matches it and names the call.
// Left to run, a nil ctx panicked with a bare nil-pointer dereference in a
// key lookup, or began an Account's sign-in that failed with net/http's
// "nil Context", worded as the user's failed sign-in. manager.ErrNilContext
// is this same value, so that one errors.Is covers every idpool call. Pass
// context.Background() or context.TODO(), not nil.
var ErrNilContext = errors.New("idpool: nil Context (pass context.Background() or context.TODO(), not nil)")

// nilContextError is ErrNilContext naming the call (Type.Method) that was
// given a nil ctx; a string, so that the refusal allocates nothing.
type nilContextError string

func (e nilContextError) Error() string {
	return "idpool: tokens." + string(e) + ": nil Context (pass context.Background() or context.TODO(), not nil)"
}

// Is makes the error match ErrNilContext.
func (e nilContextError) Is(target error) bool { return target == ErrNilContext }
