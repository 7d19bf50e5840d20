package tokens

import (
	"fmt"

	"github.com/idpool/idpool/internal/typednil"
)

// isNil reports whether v is nil, or an interface holding a nil pointer (or
// other nil reference, see typednil): a constructor's result kept after it
// returned an error (cred, _ := azidentity.NewManagedIdentityCredential(...))
// passed for a credential, and the first mint panicked far from the mistake.
func isNil(v any) bool { return v == nil || typednil.Is(v) }

// nilError is the error of a constructor given a nil what (a credential or
// a token source), naming the type a typed nil had.
func nilError(what string, v any) error {
	if v == nil {
		return fmt.Errorf("%w: nil %s", ErrInvalidIdentity, what)
	}
	return fmt.Errorf("%w: nil %s (a nil %T: a constructor's result kept after it returned an error?)", ErrInvalidIdentity, what, v)
}
