package tokens

import (
	"fmt"
	"reflect"
)

// isNil reports whether v is nil, or an interface holding a nil pointer (or
// other nil reference). The second is what a constructor's result kept
// after it returned an error looks like (cred, _ :=
// azidentity.NewManagedIdentityCredential(...)): not == nil, so it passed
// for a credential, and the first mint panicked far from the mistake.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// nilError is the error of a constructor given a nil what (a credential or
// a token source), naming the type a typed nil had.
func nilError(what string, v any) error {
	if v == nil {
		return fmt.Errorf("%w: nil %s", ErrInvalidIdentity, what)
	}
	return fmt.Errorf("%w: nil %s (a nil %T: a constructor's result kept after it returned an error?)", ErrInvalidIdentity, what, v)
}
